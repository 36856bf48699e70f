package mysql_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	cdc "github.com/ferryhq/ferry/connectors/mysql"
)

// everyTable has a column of every type the connector renders (see the
// Types table of docs/mysql-cdc.md), several sizes of each family.
const everyTable = `CREATE TABLE every (
	id INT PRIMARY KEY,
	ti TINYINT, tu TINYINT UNSIGNED, bo BOOL, si SMALLINT, su SMALLINT UNSIGNED,
	mi MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
	f FLOAT, d DOUBLE, dec0 DECIMAL(10,0), dec1 DECIMAL(20,6), dec2 DECIMAL(65,30), num NUMERIC(5,2),
	dt DATETIME(6), dt0 DATETIME, dt3 DATETIME(3), ts TIMESTAMP(6) NULL, ts0 TIMESTAMP NULL,
	dd DATE, tm TIME(6), tm0 TIME, tm2 TIME(2), y YEAR,
	b1 BIT(1), b12 BIT(12), b64 BIT(64),
	e ENUM('red','green','blue'), s SET('a','b','c','d'),
	j JSON,
	bin4 BINARY(4), bin2 BINARY(2), bin1 BINARY(1), bin255 BINARY(255), vb VARBINARY(16),
	tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB,
	tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT,
	vc VARCHAR(50), ch CHAR(5), ch4 CHAR(4), lat VARCHAR(10) CHARACTER SET latin1, latc CHAR(4) CHARACTER SET latin1,
	cyr TEXT CHARACTER SET cp1251, gb VARCHAR(10) CHARACTER SET gbk, u16 VARCHAR(10) CHARACTER SET utf16,
	le ENUM('café','thé') CHARACTER SET latin1,
	g GEOMETRY, pt POINT,
	gs INT AS (ti + 1) STORED, gv INT AS (ti + 2) VIRTUAL
) DEFAULT CHARSET utf8mb4`

// everyRows are edge values: maxima, minima, NULLs, zero dates, dates with
// zero parts or invalid days (sql_mode ALLOW_INVALID_DATES), and binary
// strings ending in zero bytes, which the binlog strips from BINARY(n)
// values.
var everyRows = []string{
	`(1, 127, 255, 1, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
	9223372036854775807, 18446744073709551615,
	3.40282e38, 1.7976931348623157e308, 9999999999, 99999999999999.999999,
	99999999999999999999999999999999999.999999999999999999999999999999, 999.99,
	'9999-12-31 23:59:59.999999', '9999-12-31 23:59:59', '2024-02-29 12:00:00.5', '2038-01-19 03:14:07.999999', '2038-01-19 03:14:07',
	'9999-12-31', '838:59:59.000000', '838:59:59', '12:34:56.78', 2155,
	b'1', b'111111111111', b'1111111111111111111111111111111111111111111111111111111111111111',
	'blue', 'a,b,c,d', '{"k": [1, 2.5, "x", true], "u": "😀 ✓", "n": null, "o": {}}',
	X'00000000', X'AB00', X'00', CONCAT(X'01', REPEAT(X'00', 254)), X'0000',
	X'00', X'00FF00', REPEAT(X'00', 3), REPEAT('x', 70000),
	'tiny', 'tëxt "q"\n\t\\ 😀', 'medium', 'long',
	'✓ unicode 😀', 'ab', '😀😀', 'café', 'ÿ€',
	'Привет', '中文', '😀 ✓', 'thé',
	ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))'), POINT(1.5, -2.25), DEFAULT, DEFAULT)`,
	`(2, -128, 0, 0, -32768, 0, -8388608, 0, -2147483648, 0,
	-9223372036854775808, 0,
	-1.17549e-38, -2.2250738585072014e-308, -9999999999, -99999999999999.999999,
	-99999999999999999999999999999999999.999999999999999999999999999999, -999.99,
	'1000-01-01 00:00:00.000000', '1000-01-01 00:00:00', '1000-01-01 00:00:00.001', '1970-01-01 00:00:01.000000', '1970-01-01 00:00:01',
	'1000-01-01', '-838:59:59.000000', '-838:59:59', '-00:00:00.01', 1901,
	b'0', b'0', b'0',
	'red', '', '[]',
	X'AB000000', X'0000', X'01', X'', X'',
	X'', X'', X'', X'',
	'', '', '', '',
	'', '', '', '', '',
	'', '', '', 'café',
	POINT(0, 0), POINT(-180, 90), DEFAULT, DEFAULT)`,
	`(3, 0, NULL, NULL, 0, NULL, 0, NULL, 0, NULL,
	0, NULL,
	0.1, 0.1, 0, 0.000001, 0.000000000000000000000000000001, 0,
	'0000-00-00 00:00:00', '0000-00-00 00:00:00', NULL, '0000-00-00 00:00:00', NULL,
	'0000-00-00', '00:00:00', NULL, NULL, 0,
	NULL, NULL, NULL,
	NULL, NULL, 'null',
	NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL,
	NULL, NULL, DEFAULT, DEFAULT)`,
	`(5, 0, NULL, NULL, 0, NULL, 0, NULL, 0, NULL,
	0, NULL,
	0.1, 0.1, 0, 0.000001, 0.000000000000000000000000000001, 0,
	'2020-02-31 10:11:12.5', '2024-00-00 00:00:00', '1969-12-31 23:59:59.999', '1970-01-01 00:00:01.5', NULL,
	'2020-02-31', '-00:00:00.5', NULL, '-12:00:00.01', 0,
	NULL, NULL, NULL,
	NULL, NULL, 'null',
	NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL,
	NULL, NULL, DEFAULT, DEFAULT)`,
	`(4, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 9223372036854775808,
	1.2345678, 0.30000000000000004, 1, 1.5, 1.5, 1.5,
	'2024-02-29 23:59:59.000001', '2024-02-29 23:59:59', '2024-02-29 23:59:59.999', '2024-02-29 23:59:59.000001', '2024-02-29 23:59:59',
	'2024-02-29', '-00:00:00.000001', '-00:00:01', '100:00:00.5', 2024,
	b'1', b'100000000001', b'1000000000000000000000000000000000000000000000000000000000000000',
	'green', 'b,d', '"a string"',
	X'61620000', X'00AB', X'FF', X'FF', X'00',
	X'0000', X'61', X'62', X'63',
	'a', 'b', 'c', 'd',
	'trailing  ', 'ab  ', 'a', 'x', 'a ',
	'ё', '汉', 'x', 'café',
	POINT(1e300, -1e-300), POINT(0.1, 0.2), DEFAULT, DEFAULT)`,
}

// TestSnapshotBinlogIdentical checks the promise of docs/mysql-cdc.md that
// the snapshot and the binlog render a value identically: every row of
// everyTable is read by the snapshot (chunks of one row, so both the text
// protocol of the first SELECT and the binary protocol of the later,
// parameterised ones are covered), then deleted and inserted again, and
// the snapshot's after image must equal, byte for byte, the delete's
// before image and the insert's after image.
func TestSnapshotBinlogIdentical(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	checkIdentical(t, e, "every", everyTable, everyRows, false)
	checkIdentical(t, e, "every_direct", directTable, directRows(), true)
}

// directTable is everyTable without its GEOMETRY columns, which go-mysql
// decodes: the stream renders its row events straight from their bytes.
var directTable = strings.Replace(strings.Replace(everyTable, "\n\tg GEOMETRY, pt POINT,", "", 1),
	"CREATE TABLE every ", "CREATE TABLE every_direct ", 1)

// directRows are everyRows without the GEOMETRY values (each row's last
// line but the generated columns' DEFAULTs).
func directRows() []string {
	rows := make([]string, len(everyRows))
	for i, r := range everyRows {
		rows[i] = r[:strings.LastIndex(r, "\n\t")] + "\n\tDEFAULT, DEFAULT)"
	}
	return rows
}

// checkIdentical creates table (named in its CREATE statement create),
// fills it with rows, and requires the binlog's images of the rows (a
// delete of them all, and an insert of them again) to equal the
// snapshot's; direct says whether the stream should render them straight
// from the events' bytes.
func checkIdentical(t *testing.T, e *env, table, create string, rows []string, direct bool) {
	t.Helper()
	if !strings.Contains(create, "CREATE TABLE "+table+" ") {
		t.Fatalf("%q does not create %s", create, table)
	}
	insert := "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'; INSERT INTO " + table + " VALUES " + strings.Join(rows, ", ")
	e.exec(t, create, insert)
	src := mustOpen(t, e.config("snapshot.chunk.size", "1", "batch.size", "1", "table.include.list", e.name+`\.`+table), nil)

	snap := map[string]string{}
	for _, r := range readN(t, src, len(rows)) {
		id, img := images(t, r.Event.Data, "r")
		snap[id] = img
	}
	// Both renderings could be wrong alike: pin the values this test is
	// about.
	for id, want := range map[string]map[string]string{
		"1": {"bin4": `"AAAAAA=="`, "bin2": `"qwA="`, "bin1": `"AA=="`, "vb": `"AAA="`, "tm": `"838:59:59.000000"`,
			"lat": `"café"`, "latc": `"ÿ€"`, "cyr": `"Привет"`, "gb": `"中文"`, "u16": `"😀 ✓"`, "le": `"thé"`,
			"bu": `18446744073709551615`, "b64": `18446744073709551615`, "ch": `"ab"`},
		"2": {"bin4": `"qwAAAA=="`, "bin255": `"` + strings.Repeat("A", 340) + `"`, "tm2": `"-00:00:00.01"`},
		"3": {"dt": `"0000-00-00 00:00:00.000000"`, "dt0": `"0000-00-00 00:00:00"`, "dd": `"0000-00-00"`, "ts": `"0000-00-00 00:00:00.000000"`, "j": `null`, "bin4": `null`},
		"5": {"dt": `"2020-02-31T10:11:12.500000"`, "dt0": `"2024-00-00T00:00:00"`, "dt3": `"1969-12-31T23:59:59.999"`,
			"ts": `"1970-01-01T00:00:01.500000Z"`, "dd": `"2020-02-31"`, "tm": `"-00:00:00.500000"`, "tm2": `"-12:00:00.01"`},
		"4": {"bin4": `"YWIAAA=="`, "bu": `9223372036854775808`, "ch": `"ab"`, "tx": `"b"`},
	} {
		var row map[string]json.RawMessage
		if err := json.Unmarshal([]byte(snap[id]), &row); err != nil {
			t.Fatalf("row %s: %v", id, err)
		}
		for k, v := range want {
			if got := string(row[k]); got != v {
				t.Errorf("row %s: snapshot %s = %s, want %s", id, k, got, v)
			}
		}
	}

	e.exec(t, "DELETE FROM "+table, insert)
	deleted, inserted := map[string]string{}, map[string]string{}
	for _, r := range readN(t, src, 2*len(rows)) {
		var env struct{ Op string }
		if err := json.Unmarshal(r.Event.Data, &env); err != nil {
			t.Fatal(err)
		}
		id, img := images(t, r.Event.Data, env.Op)
		if env.Op == "d" {
			deleted[id] = img
		} else {
			inserted[id] = img
		}
	}
	if got := cdc.DirectRowsEvents(src); (got > 0) != direct {
		t.Errorf("%s: %d rows events rendered from their bytes; want them to be %v", table, got, map[bool]string{true: "some", false: "none"}[direct])
	}
	for n := range rows {
		id := fmt.Sprint(n + 1)
		s := snap[id]
		if s == "" {
			t.Fatalf("row %s: no snapshot record", id)
		}
		for what, got := range map[string]string{"binlog delete's before image": deleted[id], "binlog insert's after image": inserted[id]} {
			if got != s {
				t.Errorf("row %s: the %s differs from the snapshot's:\n%s", id, what, diffColumns(t, s, got))
			}
		}
	}
}

// images returns a change event's id column and its row image (the after
// image, the before image for a delete) as raw JSON.
func images(t *testing.T, data []byte, op string) (string, string) {
	t.Helper()
	var env struct{ Before, After json.RawMessage }
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	img := env.After
	if op == "d" {
		img = env.Before
	}
	var row map[string]json.RawMessage
	if err := json.Unmarshal(img, &row); err != nil {
		t.Fatalf("%s image %s: %v", op, img, err)
	}
	return string(row["id"]), string(img)
}

// diffColumns names the columns whose JSON differs between two images.
func diffColumns(t *testing.T, want, got string) string {
	t.Helper()
	var a, b map[string]json.RawMessage
	if err := json.Unmarshal([]byte(want), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(got), &b); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for k, v := range a {
		if string(b[k]) != string(v) {
			fmt.Fprintf(&out, "  %s: snapshot %.120s, binlog %.120s\n", k, v, b[k])
		}
	}
	if len(a) != len(b) {
		fmt.Fprintf(&out, "  %d columns in the snapshot, %d in the binlog\n", len(a), len(b))
	}
	if out.Len() == 0 {
		out.WriteString("  same columns and values, different order or spacing\n")
	}
	return out.String()
}
