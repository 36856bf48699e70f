package rds

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

func TestParseNamed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, out string
		names         []string
		err           string
	}{
		{"plain", "SELECT :a, :b_1", "SELECT ?, ?", []string{"a", "b_1"}, ""},
		{"repeat", "UPDATE t SET x = :v WHERE id = :id OR x = :v", "UPDATE t SET x = ? WHERE id = ? OR x = ?", []string{"v", "id", "v"}, ""},
		{"quotes", `SELECT ':a', ":b", ` + "`:c`" + `, 'it''s :d', 'x\':e', :f`, `SELECT ':a', ":b", ` + "`:c`" + `, 'it''s :d', 'x\':e', ?`, []string{"f"}, ""},
		{"comments", "SELECT 1 -- :a\n, :b # :c\n/* :d */ , :e", "SELECT 1 -- :a\n, ? # :c\n/* :d */ , ?", []string{"b", "e"}, ""},
		{"not a comment", "SELECT 1--:a", "SELECT 1--?", []string{"a"}, ""},
		{"assignment", "SET @x := :v", "SET @x := ?", []string{"v"}, ""},
		{"colon after name", "SELECT a:b", "SELECT a:b", nil, ""},
		{"lone colon", "SELECT ':' , : ,:1", "SELECT ':' , : ,:1", nil, ""},
		{"positional", "SELECT ?", "", nil, "positional placeholder"},
		{"unterminated quote", "SELECT 'abc", "", nil, "unterminated ' quote"},
		{"unterminated comment", "SELECT /* x", "", nil, "unterminated /*"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, names, err := parseNamed(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v; want %q", err, c.err)
				}
				return
			}
			if err != nil || out != c.out || !reflect.DeepEqual(names, c.names) {
				t.Errorf("parseNamed(%q) = %q, %q, %v; want %q, %q", c.in, out, names, err, c.out, c.names)
			}
		})
	}
}

// FuzzParseNamed checks that rewriting keeps every byte outside the
// placeholders and yields one ? per name.
func FuzzParseNamed(f *testing.F) {
	for _, s := range []string{"SELECT :a", "'x:y' :z", "-- :a\n:b", "/* :c */", "`:d` :e", `"\":f" :g`, "@x:=:h", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if strings.Contains(q, "?") {
			return // refused outside quotes and comments, kept inside
		}
		out, names, err := parseNamed(q)
		if err != nil {
			return
		}
		if strings.Count(out, "?") != len(names) {
			t.Fatalf("%q → %q: %d ? for %d names", q, out, strings.Count(out, "?"), len(names))
		}
		// Putting the names back gives the input.
		var b strings.Builder
		i := 0
		for _, c := range []byte(out) {
			if c == '?' {
				b.WriteString(":" + names[i])
				i++
				continue
			}
			b.WriteByte(c)
		}
		if b.String() != q {
			t.Fatalf("%q → %q %q does not round-trip", q, out, names)
		}
	})
}

func TestJSONArg(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		raw  string
		kind colKind
		want any
	}{
		{"null", "null", kindOther, nil},
		{"string", `"a\"b"`, kindOther, `a"b`},
		{"true", "true", kindOther, int64(1)},
		{"false", "false", kindInt, int64(0)},
		{"int", "-42", kindOther, int64(-42)},
		{"uint64", "18446744073709551615", kindInt, uint64(18446744073709551615)},
		{"big int as text", "123456789012345678901234567890", kindText, "123456789012345678901234567890"},
		{"decimal text", "1.50", kindText, "1.50"},
		{"exponent into int", "1e3", kindInt, float64(1000)},
		{"object", `{"a":[1,2]}`, kindOther, `{"a":[1,2]}`},
		{"base64 binary", `"AAEC"`, kindBinary, []byte{0, 1, 2}},
		{"not base64 stays", `"%%"`, kindBinary, "%%"},
		{"rfc3339 utc", `"2026-01-02T03:04:05.5Z"`, kindDateTime, "2026-01-02 03:04:05.5"},
		{"rfc3339 offset", `"2026-01-02T03:04:05+01:00"`, kindDateTime, "2026-01-02 02:04:05"},
		{"naive datetime", `"2026-01-02T03:04:05.000000"`, kindDateTime, "2026-01-02 03:04:05.000000"},
		{"date", `"2026-01-02"`, kindDate, "2026-01-02"},
		{"datetime into text", `"2026-01-02T03:04:05Z"`, kindText, "2026-01-02T03:04:05Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := jsonArg([]byte(c.raw), c.kind)
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("jsonArg(%s) = %#v, %v; want %#v", c.raw, got, err, c.want)
			}
		})
	}
	for _, bad := range []string{"nul", `"unterminated`, "{", "01x", "tru"} {
		if _, err := jsonArg([]byte(bad), kindOther); err == nil {
			t.Errorf("jsonArg(%s) accepted", bad)
		}
	}
}

func FuzzJSONArg(f *testing.F) {
	for _, s := range []string{"null", `"x"`, "1", "1.5e3", "[1]", `{"a":1}`, "true", `"2026-01-02T03:04:05Z"`} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, raw string, k uint8) {
		v, err := jsonArg([]byte(raw), colKind(k%6))
		if err == nil && !json.Valid([]byte(strings.TrimSpace(raw))) && strings.TrimSpace(raw) != "" {
			t.Fatalf("jsonArg(%q) = %v for invalid JSON", raw, v)
		}
	})
}

func TestInferType(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"1": "BIGINT", "-9223372036854775808": "BIGINT", "18446744073709551615": "BIGINT UNSIGNED",
		"99999999999999999999999": "DECIMAL(65,0)", "1.5": "DOUBLE", "1e9": "DOUBLE",
		`"x"`: "LONGTEXT", "null": "LONGTEXT", "true": "BOOLEAN", "[]": "JSON", `{"a":1}`: "JSON",
	} {
		if got := inferType(json.RawMessage(raw)); got != want {
			t.Errorf("inferType(%s) = %s; want %s", raw, got, want)
		}
	}
}

func TestStatement(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		sh   shape
		n    int
		want string
	}{
		{"insert", shape{kind: opInsert, table: "t", cols: []string{"a", "b`c"}}, 2, "INSERT INTO `t` (`a`,`b``c`) VALUES (?,?),(?,?)"},
		{"upsert", shape{kind: opUpsert, table: "t", cols: []string{"id", "v"}, update: []string{"v"}}, 1, "INSERT INTO `t` (`id`,`v`) VALUES (?,?) ON DUPLICATE KEY UPDATE `v`=VALUES(`v`)"},
		{"delete one key", shape{kind: opDelete, table: "t", cols: []string{"id"}}, 3, "DELETE FROM `t` WHERE `id` IN (?,?,?)"},
		{"delete composite", shape{kind: opDelete, table: "t", cols: []string{"a", "b"}}, 2, "DELETE FROM `t` WHERE (`a`=? AND `b`=?) OR (`a`=? AND `b`=?)"},
		{"exec", shape{kind: opExec, sql: "DO ?"}, 1, "DO ?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.sh.statement(c.n); got != c.want {
				t.Errorf("statement = %q; want %q", got, c.want)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"orders": true, "a b": true, "a`b": true, "日本": true, strings.Repeat("x", 64): true,
		"": false, strings.Repeat("x", 65): false, "a\x00": false, "trailing ": false, "\xff": false,
	} {
		if got := checkName(name) == nil; got != ok {
			t.Errorf("checkName(%q) ok=%v; want %v", name, got, ok)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		err   error
		class kit.Class
		fatal bool
	}{
		{"deadlock", &mysql.MySQLError{Number: erLockDeadlock}, kit.Transient, false},
		{"lock wait timeout", &mysql.MySQLError{Number: erLockWaitTimeout}, kit.Transient, false},
		{"read-only failover", &mysql.MySQLError{Number: erOptionPreventsStmt}, kit.Transient, false},
		{"bad conn", driver.ErrBadConn, kit.Transient, false},
		{"invalid conn", mysql.ErrInvalidConn, kit.Transient, false},
		{"duplicate key", fmt.Errorf("x: %w", &mysql.MySQLError{Number: erDupEntry}), kit.RecordFault, false},
		{"check constraint mariadb", &mysql.MySQLError{Number: erConstraintFailed}, kit.RecordFault, false},
		{"foreign key", &mysql.MySQLError{Number: erNoReferencedRow2}, kit.RecordFault, false},
		{"access denied", &mysql.MySQLError{Number: erAccessDenied}, kit.Fatal, true},
		{"syntax", &mysql.MySQLError{Number: erParseError}, kit.Fatal, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := classify(c.err); got != c.class {
				t.Errorf("classify = %d; want %d", got, c.class)
			}
			err := engineError("write", c.err)
			if api.IsFatal(err) != c.fatal || (!c.fatal && !api.IsRetryable(err)) {
				t.Errorf("engineError fatal=%v retryable=%v; want fatal=%v", api.IsFatal(err), api.IsRetryable(err), c.fatal)
			}
		})
	}
}
