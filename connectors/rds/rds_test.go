package rds_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/rds"
)

func TestSpecDoc(t *testing.T) {
	t.Parallel()
	apitest.CheckSpecDoc(t, "doc.go", rds.Sink.Spec)
}

// TestSinkConformance stores each event's attributes and data as a row and
// reads them back from the table.
func TestSinkConformance(t *testing.T) {
	tg := newTarget(t)
	tg.exec("CREATE TABLE events (id VARCHAR(64) PRIMARY KEY, source TEXT, type TEXT, data JSON)")
	tg.db.Close() // its idle connections would count as leaked goroutines
	apitest.RunSink(t, apitest.SinkCase{
		Plugin: rds.Sink,
		Config: tg.config(map[string]string{
			"mode":    "insert",
			"table":   "events",
			"columns": `{"id":"$.id","source":"$.source","type":"$.type","data":"$.data"}`,
		}),
		ReadBack: func(t testing.TB) []api.Event {
			var out []api.Event
			tg.fresh(func(tg *target) {
				for _, r := range tg.rows("SELECT id, source, type, data FROM events") {
					out = append(out, api.Event{ID: r[0], Source: r[1], Type: r[2], Data: []byte(r[3])})
				}
			})
			return out
		},
	})
}

func TestInsertUpsertTemplates(t *testing.T) {
	t.Parallel()
	tg := newTarget(t)
	tg.exec("CREATE TABLE orders_eu (id BIGINT PRIMARY KEY, customer VARCHAR(64), total DECIMAL(10,2), note TEXT, origin VARCHAR(32), paid BOOLEAN, tags JSON, at DATETIME(3))")
	tg.exec("CREATE TABLE orders_us LIKE orders_eu")
	cfg := tg.config(map[string]string{
		"mode":           "upsert",
		"table.form":     "TEMPLATE",
		"table.value":    `{"r":"$.data.region"}`,
		"table.template": "orders_${r}",
		"columns": `{
			"id": "$.data.id",
			"customer": "$.data.customer.name",
			"total": "$.data.total",
			"note": {"form":"TEMPLATE","value":{"n":"$.data.customer.name","t":"$.data.total"},"template":"${n} paid ${t}"},
			"origin": "web",
			"paid": "$.data.paid",
			"tags": "$.data.tags",
			"at": "$.data.at"
		}`,
	})
	s := open(t, cfg)
	recs := []api.Record{
		event("1", map[string]any{"id": 1, "region": "eu", "customer": map[string]any{"name": "Ann"}, "total": "10.50", "paid": true, "tags": []string{"a"}, "at": "2026-01-02T03:04:05.123Z"}, "p", 1),
		event("2", map[string]any{"id": 2, "region": "us", "customer": map[string]any{"name": "Bob"}, "total": 7, "paid": false, "tags": nil, "at": "2026-01-02T03:04:05+02:00"}, "p", 2),
		event("3", map[string]any{"id": 3, "region": "eu", "total": 1.25}, "p", 3),
	}
	mustWrite(t, s, recs)
	// An upsert replaces the non-key columns of an existing row.
	mustWrite(t, s, []api.Record{event("4", map[string]any{"id": 1, "region": "eu", "customer": map[string]any{"name": "Ann"}, "total": 11, "paid": true}, "p", 4)})
	if got, want := tg.dump("orders_eu", "id"),
		"1|Ann|11.00|Ann paid 11|web|1|NULL|NULL\n"+
			"3|NULL|1.25| paid 1.25|web|NULL|NULL|NULL\n"; got != want {
		t.Errorf("orders_eu:\n%s\nwant:\n%s", got, want)
	}
	if got, want := tg.dump("orders_us", "id"), "2|Bob|7.00|Bob paid 7|web|0|NULL|2026-01-02 01:04:05.000\n"; got != want {
		t.Errorf("orders_us:\n%s\nwant:\n%s", got, want)
	}
	// JSON arrays arrive as JSON; RFC 3339 times as UTC.
	mustWrite(t, s, recs[:1])
	if got := tg.rows("SELECT tags, at FROM orders_eu WHERE id = 1")[0]; got[0] != `["a"]` || got[1] != "2026-01-02 03:04:05.123" {
		t.Errorf("tags, at = %q", got)
	}
}

func TestInsertModeDuplicateIsolated(t *testing.T) {
	t.Parallel()
	tg := newTarget(t)
	tg.exec("CREATE TABLE t (id INT PRIMARY KEY, email VARCHAR(64) NOT NULL UNIQUE, n INT CHECK (n >= 0))")
	s := open(t, tg.config(map[string]string{
		"mode": "insert", "table": "t", "batch.size": "3",
		"columns": `{"id":"$.data.id","email":"$.data.email","n":"$.data.n"}`,
	}))
	var recs []api.Record
	for i := range 10 {
		d := map[string]any{"id": i, "email": "u" + string(rune('a'+i)) + "@x", "n": i}
		switch i {
		case 3:
			d["email"] = "ua@x" // duplicate unique key
		case 6:
			d["email"] = nil // NOT NULL
		case 8:
			d["n"] = -1 // CHECK
		}
		recs = append(recs, event("e", d, "p", i))
	}
	re := recordErrors(t, write(t, s, recs))
	var idx []int
	for _, e := range re {
		idx = append(idx, e.Index)
		if !api.IsFatal(e.Err) {
			t.Errorf("record %d: error %v is not Fatal", e.Index, e.Err)
		}
	}
	if got := strings.Trim(strings.Join(strings.Fields(strings.Trim(strings.ReplaceAll(toString(idx), ",", " "), "[]")), ","), ","); got != "3,6,8" {
		t.Errorf("rejected %v; want [3 6 8]", idx)
	}
	if got := tg.rows("SELECT COUNT(*) FROM t")[0][0]; got != "7" {
		t.Errorf("%s rows written; want the 7 good ones", got)
	}
}

func toString(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestSQLModeBinding proves values are bound, not spliced: a value that
// would end the statement and drop a table lands as data.
func TestSQLModeBinding(t *testing.T) {
	t.Parallel()
	tg := newTarget(t)
	tg.exec("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT, label VARCHAR(32), hits INT NOT NULL DEFAULT 0)")
	tg.exec("CREATE TABLE x (a INT)")
	s := open(t, tg.config(map[string]string{
		"mode": "sql",
		"sql": "INSERT INTO notes (id, body, label) VALUES (:id, :body, ':label') -- :id is the key\n" +
			"ON DUPLICATE KEY UPDATE body = :body, hits = hits + 1 /* :nope */",
		"sql.params": `{"id":"$.data.id","body":"$.data.body"}`,
	}))
	evil := `'; DROP TABLE x; --`
	mustWrite(t, s, []api.Record{
		event("1", map[string]any{"id": 1, "body": evil}, "p", 1),
		event("2", map[string]any{"id": 2, "body": `\'"` + "`:id"}, "p", 2),
		event("3", map[string]any{"id": 1, "body": evil + " again"}, "p", 3),
	})
	if got, want := tg.dump("notes", "id"), "1|"+evil+" again|:label|1\n2|\\'\"`:id|:label|0\n"; got != want {
		t.Errorf("notes:\n%s\nwant:\n%s", got, want)
	}
	if got := tg.rows("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'x'", tg.name)[0][0]; got != "1" {
		t.Errorf("table x is gone")
	}
}

func cdcTarget(t *testing.T, extra map[string]string) (*target, api.Sink) {
	tg := newTarget(t)
	tg.exec("CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(64), score DECIMAL(10,2), avatar VARBINARY(16), seen TIMESTAMP(6) NULL, born DATETIME NULL)")
	tg.exec("CREATE TABLE items (id INT PRIMARY KEY, title TEXT)")
	return tg, open(t, tg.config(extra))
}

func user(id int, name string) map[string]any {
	return map[string]any{"id": id, "name": name, "score": "1.50", "avatar": "AAEC", "seen": "2026-05-06T07:08:09.123456Z", "born": "1990-01-02T03:04:05.000000"}
}

func TestCDCApply(t *testing.T) {
	t.Parallel()
	for _, par := range []string{"1", "3"} {
		t.Run("parallelism="+par, func(t *testing.T) {
			t.Parallel()
			tg, s := cdcTarget(t, map[string]string{"mode": "cdc", "parallelism": par})
			tg.exec("INSERT INTO users (id, name) VALUES (9, 'stale')")
			batch := []api.Record{
				change('r', "users", nil, user(1, "snap"), 1),
				change('c', "users", nil, user(2, "two"), 2),
				change('c', "items", nil, map[string]any{"id": 1, "title": "pen"}, 3),
				change('u', "users", user(1, "snap"), user(1, "one"), 4),
				change('c', "users", nil, user(3, "three"), 5),
				change('d', "users", user(2, "two"), nil, 6),
				change('u', "users", user(3, "three"), user(4, "four"), 7), // key change
				change('d', "users", user(9, "stale"), nil, 8),
				change('c', "users", nil, user(2, "two again"), 9),
				{Event: api.Event{ID: "ddl", Type: "ferry.mysql.ddl", Source: "/t", Data: []byte(`{"ddl":"ALTER TABLE users ADD x INT","databaseName":"src"}`)}},
				{Event: api.Event{ID: "hb", Type: "ferry.mysql.heartbeat", Source: "/t", Data: []byte(`{}`)}},
			}
			mustWrite(t, s, batch)
			want := "1|one|1.50|\x00\x01\x02|2026-05-06 07:08:09.123456|1990-01-02 03:04:05\n" +
				"2|two again|1.50|\x00\x01\x02|2026-05-06 07:08:09.123456|1990-01-02 03:04:05\n" +
				"4|four|1.50|\x00\x01\x02|2026-05-06 07:08:09.123456|1990-01-02 03:04:05\n"
			if got := tg.dump("users", "id"); got != want {
				t.Errorf("users:\n%q\nwant:\n%q", got, want)
			}
			items := tg.dump("items", "id")
			// Replaying the same batch (at-least-once delivery) changes nothing.
			mustWrite(t, s, batch)
			if got := tg.dump("users", "id"); got != want {
				t.Errorf("users after replay:\n%q\nwant:\n%q", got, want)
			}
			if got := tg.dump("items", "id"); got != items || items != "1|pen\n" {
				t.Errorf("items after replay %q, before %q", got, items)
			}
		})
	}
}

// TestCDCPerKeyOrder interleaves many changes to a few keys across two
// tables in one batch; the last change of each key must win.
func TestCDCPerKeyOrder(t *testing.T) {
	t.Parallel()
	for _, par := range []string{"1", "4"} {
		t.Run("parallelism="+par, func(t *testing.T) {
			t.Parallel()
			tg, s := cdcTarget(t, map[string]string{"mode": "cdc", "parallelism": par, "batch.size": "7"})
			var batch []api.Record
			final := map[int]string{}
			pos := 0
			for round := range 50 {
				for k := 1; k <= 5; k++ {
					pos++
					name := "v" + itoa(round) + "-" + itoa(k)
					if (round+k)%7 == 0 {
						batch = append(batch, change('d', "users", user(k, "x"), nil, pos))
						delete(final, k)
					} else {
						batch = append(batch, change('u', "users", user(k, "x"), user(k, name), pos))
						final[k] = name
					}
					pos++
					batch = append(batch, change('u', "items", nil, map[string]any{"id": k, "title": name}, pos))
				}
			}
			mustWrite(t, s, batch)
			var want strings.Builder
			for k := 1; k <= 5; k++ {
				if n, ok := final[k]; ok {
					want.WriteString(itoa(k) + "|" + n + "\n")
				}
			}
			if got := tg.dump2("SELECT id, name FROM users ORDER BY id"); got != want.String() {
				t.Errorf("users:\n%s\nwant:\n%s", got, want.String())
			}
			if got := tg.dump2("SELECT id, title FROM items ORDER BY id"); got != "1|v49-1\n2|v49-2\n3|v49-3\n4|v49-4\n5|v49-5\n" {
				t.Errorf("items:\n%s", got)
			}
		})
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func (tg *target) dump2(q string) string {
	var b strings.Builder
	for _, r := range tg.rows(q) {
		b.WriteString(strings.Join(r, "|") + "\n")
	}
	return b.String()
}

func TestCDCConstraintViolationIsolated(t *testing.T) {
	t.Parallel()
	tg, s := cdcTarget(t, map[string]string{"mode": "cdc"})
	tg.exec("ALTER TABLE items MODIFY title VARCHAR(5) NOT NULL")
	batch := []api.Record{
		change('c', "items", nil, map[string]any{"id": 1, "title": "ok"}, 1),
		change('c', "items", nil, map[string]any{"id": 2, "title": "far too long"}, 2),
		change('c', "items", nil, map[string]any{"id": 3, "title": nil}, 3),
		change('c', "items", nil, map[string]any{"id": 4, "title": "fine"}, 4),
		change('c', "nowhere", nil, map[string]any{"id": 1}, 5),
		{Event: api.Event{ID: "junk", Type: "x", Source: "/t", Data: []byte(`{"hello":1}`)}},
	}
	re := recordErrors(t, write(t, s, batch))
	var idx []int
	for _, e := range re {
		idx = append(idx, e.Index)
	}
	if toString(idx) != "[1,2,4,5]" {
		t.Errorf("rejected %v; want [1 2 4 5] (%v)", idx, re)
	}
	if got := tg.dump("items", "id"); got != "1|ok\n4|fine\n" {
		t.Errorf("items:\n%s", got)
	}
}

func TestSchemaEvolution(t *testing.T) {
	t.Parallel()
	tg, s := cdcTarget(t, map[string]string{"mode": "cdc"})
	mustWrite(t, s, []api.Record{
		change('c', "items", nil, map[string]any{"id": 1, "title": "a"}, 1),
		change('c', "items", nil, map[string]any{"id": 2, "title": "b", "qty": 5, "price": 2.5, "meta": map[string]any{"k": 1}, "note": nil, "flag": true}, 2),
		change('c', "items", nil, map[string]any{"id": 3, "title": "c", "note": "later text"}, 3),
	})
	got := tg.dump2("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" + tg.name + "' AND TABLE_NAME = 'items' ORDER BY ORDINAL_POSITION")
	for _, want := range []string{"qty|bigint(20)", "price|double", "note|longtext", "flag|tinyint(1)", "meta|longtext"} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("columns after evolution:\n%s\nlack %s", got, want)
		}
	}
	if got := tg.dump2("SELECT id, title, qty, price, note, flag, meta FROM items ORDER BY id"); got != "1|a|NULL|NULL|NULL|NULL|NULL\n2|b|5|2.5|NULL|1|{\"k\":1}\n3|c|NULL|NULL|later text|NULL|NULL\n" {
		t.Errorf("items:\n%s", got)
	}

	// With evolution off, such a record is rejected, the rest written.
	s2 := open(t, tg.config(map[string]string{"mode": "cdc", "schema.evolution": "none"}))
	re := recordErrors(t, write(t, s2, []api.Record{
		change('c', "items", nil, map[string]any{"id": 4, "title": "d", "color": "red"}, 4),
		change('c', "items", nil, map[string]any{"id": 5, "title": "e"}, 5),
	}))
	if len(re) != 1 || re[0].Index != 0 {
		t.Errorf("rejected %v; want record 0", re)
	}
	if got := tg.rows("SELECT COUNT(*) FROM items WHERE id IN (4, 5)")[0][0]; got != "1" {
		t.Errorf("%s of ids 4, 5 written; want 1", got)
	}
}

// TestSchemaEvolutionRefused: an ALTER that cannot run (a name too long,
// a view the server will not alter) rejects only the records needing it.
func TestSchemaEvolutionRefused(t *testing.T) {
	t.Parallel()
	tg, s := cdcTarget(t, map[string]string{"mode": "cdc"})
	tg.exec("CREATE VIEW items_v AS SELECT id, title FROM items")
	long := strings.Repeat("c", 65)
	re := recordErrors(t, write(t, s, []api.Record{
		change('c', "items", nil, map[string]any{"id": 1, "title": "a", long: 1}, 1),
		change('c', "users", nil, map[string]any{"id": 1, "name": "b"}, 2),
		change('c', "items_v", nil, map[string]any{"id": 2, "title": "a", "extra": 1}, 3),
	}))
	if len(re) != 2 || re[0].Index != 0 || re[1].Index != 2 {
		t.Errorf("rejected %v; want records 0 and 2", re)
	}
	for _, e := range re {
		if !strings.Contains(e.Err.Error(), "schema evolution") {
			t.Errorf("record %d: %v; want a schema evolution error", e.Index, e.Err)
		}
	}
	if got := tg.rows("SELECT COUNT(*) FROM users")[0][0]; got != "1" {
		t.Errorf("users has %s rows; want 1", got)
	}
}

func TestExactlyOnceAtomic(t *testing.T) {
	t.Parallel()
	tg, s := cdcTarget(t, map[string]string{"mode": "cdc", "exactly.once": "true"})
	ctx := context.Background()
	mustWrite(t, s, []api.Record{
		change('c', "items", nil, map[string]any{"id": 1, "title": "a"}, 10),
		change('c', "items", nil, map[string]any{"id": 2, "title": "b"}, 11),
	})
	positions := func() string {
		ps, err := s.(interface {
			Positions(context.Context) (map[string]api.Position, error)
		}).Positions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return toString(map[string]string{"p": string(ps["127.0.0.1:3306"])})
	}
	if got := positions(); got != `{"p":"11"}` {
		t.Fatalf("positions after first write %s", got)
	}

	// Hold the offsets row so the next write blocks after its rows, then
	// kill its connection: neither rows nor position may remain.
	lock, err := tg.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec("SELECT * FROM ferry_offsets FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- write(t, s, []api.Record{
			change('c', "items", nil, map[string]any{"id": 3, "title": "c"}, 12),
			change('c', "items", nil, map[string]any{"id": 4, "title": "d"}, 13),
		})
	}()
	var victim string
	for deadline := time.Now().Add(10 * time.Second); victim == "" && time.Now().Before(deadline); {
		if r := tg.rows("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'INSERT INTO `ferry_offsets`%'", tg.name); len(r) > 0 {
			victim = r[0][0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	if victim == "" {
		t.Fatal("the write never reached its position update")
	}
	tg.exec("KILL " + victim)
	if err := <-done; err == nil || !api.IsRetryable(err) {
		t.Errorf("killed write returned %v; want a retryable error", err)
	}
	lock.Rollback()
	if got := tg.rows("SELECT COUNT(*) FROM items")[0][0]; got != "2" {
		t.Errorf("items has %s rows after the killed write; want 2 (neither row of it)", got)
	}
	if got := positions(); got != `{"p":"11"}` {
		t.Errorf("positions after the killed write %s; want the old one", got)
	}

	// The retried write commits both.
	mustWrite(t, s, []api.Record{
		change('c', "items", nil, map[string]any{"id": 3, "title": "c"}, 12),
		change('c', "items", nil, map[string]any{"id": 4, "title": "d"}, 13),
	})
	if got := tg.rows("SELECT COUNT(*) FROM items")[0][0]; got != "4" {
		t.Errorf("items has %s rows; want 4", got)
	}
	if got := positions(); got != `{"p":"13"}` {
		t.Errorf("positions %s; want 13", got)
	}

	// A rejected record stops its partition's position before it.
	re := recordErrors(t, write(t, s, []api.Record{
		change('c', "items", nil, map[string]any{"id": 5, "title": "e"}, 14),
		change('c', "nowhere", nil, map[string]any{"id": 6}, 15),
		change('c', "items", nil, map[string]any{"id": 7, "title": "g"}, 16),
	}))
	if len(re) != 1 || re[0].Index != 1 {
		t.Errorf("rejected %v; want record 1", re)
	}
	if got := positions(); got != `{"p":"14"}` {
		t.Errorf("positions %s; want 14, before the rejected record", got)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	base := map[string]string{"hostname": "h", "user": "u", "database": "d"}
	cases := []struct {
		name  string
		extra map[string]string
		want  string // substring of the error, "" for none
	}{
		{"insert ok", map[string]string{"table": "t", "columns": `{"a":"$.data.a"}`}, ""},
		{"insert without columns", map[string]string{"table": "t"}, "columns: is required"},
		{"insert without table", map[string]string{"columns": `{"a":"$.data.a"}`}, "table: is required"},
		{"bad column path", map[string]string{"table": "t", "columns": `{"a":"$.data["}`}, "columns:"},
		{"bad column form", map[string]string{"table": "t", "columns": `{"a":{"form":"NOPE"}}`}, "columns:"},
		{"sql ok", map[string]string{"mode": "sql", "sql": "DELETE FROM t WHERE id = :id", "sql.params": `{"id":"$.data.id"}`}, ""},
		{"sql missing param", map[string]string{"mode": "sql", "sql": "DELETE FROM t WHERE id = :id AND b = :b", "sql.params": `{"id":"$.data.id"}`}, "no value for placeholder :b"},
		{"sql unused param", map[string]string{"mode": "sql", "sql": "DELETE FROM t WHERE id = :id", "sql.params": `{"id":"$.data.id","x":"$.x"}`}, `names "x"`},
		{"sql positional", map[string]string{"mode": "sql", "sql": "DELETE FROM t WHERE id = ?"}, "positional placeholder"},
		{"sql without sql", map[string]string{"mode": "sql"}, "sql: is required"},
		{"sql with columns", map[string]string{"mode": "sql", "sql": "DO 1", "columns": `{"a":"x"}`}, "columns: is not used"},
		{"cdc ok", map[string]string{"mode": "cdc"}, ""},
		{"cdc with sql", map[string]string{"mode": "cdc", "sql": "DO 1"}, "sql: is not used"},
		{"exactly once parallel", map[string]string{"mode": "cdc", "exactly.once": "true", "parallelism": "2"}, "parallelism: must be 1"},
		{"table both", map[string]string{"mode": "cdc", "table": "t", "table.form": "CONSTANT", "table.value": "t"}, "not both"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			raw := map[string]string{}
			for k, v := range base {
				raw[k] = v
			}
			for k, v := range c.extra {
				raw[k] = v
			}
			cfg, err := rds.Sink.Spec.Parse(raw)
			if err == nil {
				err = rds.Sink.Validate(cfg)
			}
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v; want one containing %q", err, c.want)
			}
			if c.want == "" {
				if _, err := rds.Sink.New(api.TaskConfig{Config: cfg}); err != nil {
					t.Errorf("New: %v", err)
				}
			}
		})
	}
}

// TestCDCTypes applies an after image written the way the mysql-cdc source
// renders each type (docs/mysql-cdc.md) and reads the row back as the
// server prints it; then deletes by the record key alone.
func TestCDCTypes(t *testing.T) {
	t.Parallel()
	tg := newTarget(t)
	tg.exec(`CREATE TABLE ty (
		id BIGINT UNSIGNED PRIMARY KEY, i INT, u INT UNSIGNED, f DOUBLE, d DECIMAL(30,10),
		dt DATETIME(6), ts TIMESTAMP(3) NULL, da DATE, ti TIME, y YEAR, b BIT(8),
		e ENUM('red','green'), st SET('a','b','c'), j JSON, bin VARBINARY(8), bl BLOB, tx TEXT, n INT)`)
	s := open(t, tg.config(map[string]string{"mode": "cdc"}))
	after := map[string]any{
		"id": uint64(18446744073709551615), "i": -5, "u": 4294967295, "f": 1.5e-7,
		"d": "12345678901234567890.0123456789", "dt": "2026-01-02T03:04:05.000006",
		"ts": "2026-01-02T03:04:05.789Z", "da": "2026-01-02", "ti": "-838:59:59", "y": 2026,
		"b": 165, "e": "green", "st": "a,c", "j": map[string]any{"k": []int{1, 2}},
		"bin": "/wA=", "bl": "aGVsbG8=", "tx": "ünïcode ✓", "n": nil,
	}
	mustWrite(t, s, []api.Record{change('r', "ty", nil, after, 1)})
	got := tg.dump2("SELECT id, i, u, f, d, dt, ts, da, ti, y, b+0, e, st, j, HEX(bin), bl, tx, n FROM ty")
	want := "18446744073709551615|-5|4294967295|1.5e-07|12345678901234567890.0123456789|2026-01-02 03:04:05.000006|" +
		"2026-01-02 03:04:05.789|2026-01-02|-838:59:59|2026|165|green|a,c|{\"k\":[1,2]}|FF00|hello|ünïcode ✓|NULL\n"
	if got != want {
		t.Errorf("row:\n%s\nwant:\n%s", got, want)
	}
	del := change('d', "ty", nil, nil, 2)
	del.Key = []byte(`{"id":18446744073709551615}`)
	mustWrite(t, s, []api.Record{del})
	if got := tg.rows("SELECT COUNT(*) FROM ty")[0][0]; got != "0" {
		t.Errorf("%s rows after a delete by key; want 0", got)
	}
}
