package mysql

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// rowsOutput is what the stream makes of a rows event: each row image's
// JSON (update events: before and after in turn) and each row's key.
type rowsOutput struct {
	images []string
	keys   []string
	direct bool // rendered from the event's bytes
}

// tableFacts derives the columns the stream would from a table map.
type tableFacts func(*replication.TableMapEvent) ([]column, error)

// plainFacts are the columns of a table map without FULL metadata.
func plainFacts(tme *replication.TableMapEvent) ([]column, error) {
	return binlogColumns(tme.ColumnType, tme.ColumnMeta, nil, tme.UnsignedMap(), nil, nil, nil, nil, nil)
}

// renderRows parses the events with decode as the rows-event decoder and
// renders the rows of the last one as the stream does (startRows, rows):
// from the bytes when decodeRows left them undecoded and the table and
// event allow, else go-mysql's values through renderBinlog. pk names the
// key columns.
func renderRows(t testing.TB, decode func(*replication.RowsEvent, []byte) error, facts tableFacts, pk []int, events ...[]byte) (out rowsOutput, err error) {
	t.Helper()
	p := replication.NewBinlogParser()
	p.SetTimestampStringLocation(time.UTC)
	p.SetRowsEventDecodeFunc(decode)
	var last *replication.BinlogEvent
	for _, raw := range events {
		if last, err = p.Parse(raw); err != nil {
			return out, err
		}
	}
	e := last.Event.(*replication.RowsEvent)
	cols, err := facts(e.Table)
	if err != nil {
		t.Fatalf("columns: %v", err)
	}
	m := &tableMeta{cols: cols, pk: pk, raw: rawLayout(e.Table), keys: columnKeys(cols)}
	op := rowsOp(last.Header.EventType)
	if r := deferredRows(e); r != nil {
		e.Rows = nil
		if m.raw == nil || !directRows(last.Header.EventType, e) {
			if err := decodeData(e, r.pos, r.data); err != nil {
				return out, err
			}
		} else {
			out.direct = true
			offs := make([]int, len(m.raw))
			for pos := r.pos; pos < len(r.data); {
				var b []byte
				if b, pos, err = renderRawImage(nil, m, e.ColumnBitmap1, r.data, pos, offs); err != nil {
					return out, err
				}
				out.images = append(out.images, string(b))
				if op == 'u' {
					if b, pos, err = renderRawImage(nil, m, e.ColumnBitmap2, r.data, pos, offs); err != nil {
						return out, err
					}
					out.images = append(out.images, string(b))
				}
				if len(pk) > 0 {
					if b, err = renderRawKey(nil, m, r.data, offs); err != nil {
						return out, err
					}
					out.keys = append(out.keys, string(b))
				}
			}
			return out, nil
		}
	}
	step := 1
	if op == 'u' {
		step = 2
	}
	for i := 0; i+step <= len(e.Rows); i += step {
		for _, img := range e.Rows[i : i+step] {
			b, err := renderBinlog(nil, cols, nil, img)
			if err != nil {
				return out, err
			}
			out.images = append(out.images, string(b))
		}
		if len(pk) > 0 {
			b, err := renderBinlog(nil, cols, pk, e.Rows[i+step-1])
			if err != nil {
				return out, err
			}
			out.keys = append(out.keys, string(b))
		}
	}
	return out, nil
}

// compareRows renders the events with today's go-mysql decoding
// (decodeData) and with decodeRows, and fails unless both fail or both
// give the same JSON. It returns the latter.
func compareRows(t testing.TB, facts tableFacts, pk []int, events ...[]byte) (rowsOutput, error) {
	t.Helper()
	viaGo, goErr := renderRows(t, func(e *replication.RowsEvent, data []byte) error {
		pos, err := e.DecodeHeader(data)
		if err != nil {
			return err
		}
		return decodeData(e, pos, data)
	}, facts, pk, events...)
	direct, err := renderRows(t, decodeRows, facts, pk, events...)
	if (goErr == nil) != (err == nil) {
		t.Fatalf("go-mysql decoding: %v (%q); direct: %v (%q)", goErr, viaGo.images, err, direct.images)
	}
	if err != nil {
		return direct, err
	}
	if strings.Join(viaGo.images, "\n") != strings.Join(direct.images, "\n") || strings.Join(viaGo.keys, "\n") != strings.Join(direct.keys, "\n") {
		t.Fatalf("images differ:\n go-mysql %q\n          %q\n direct   %q\n          %q", viaGo.images, viaGo.keys, direct.images, direct.keys)
	}
	return direct, nil
}

// rawRowsEvent is a v2 (or v1) rows event of the given columns-present
// bitmaps and body.
func rawRowsEvent(typ replication.EventType, ncols int, present1, present2, body []byte) []byte {
	b := []byte{rawTableID, 0, 0, 0, 0, 0, 1, 0}
	switch typ {
	case replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv2:
		b = append(b, 2, 0)
	}
	b = append(b, byte(ncols))
	b = append(b, present1...)
	if typ == replication.UPDATE_ROWS_EVENTv2 || typ == replication.UPDATE_ROWS_EVENTv1 {
		b = append(b, present2...)
	}
	return rawEvent(typ, append(b, body...))
}

// Collation ids of the test tables' text columns and their character sets.
var testCharsets = map[uint64]string{45: "utf8mb4", 8: "latin1", 63: "binary", 28: "gbk", 35: "ucs2", 1: "big5"}

// testColumn is a column of a test table: its binlog type and table-map
// metadata, and the facts the stream reads from FULL metadata.
type testColumn struct {
	rawColumn
	coll  uint64   // text: collation id (0: none given)
	names []string // ENUM/SET members
	json  bool     // MariaDB JSON (LONGTEXT)
}

// testFacts derives the columns of a test table as meta does, naming them
// c0, c1, … (one with characters JSON escapes).
func testFacts(tcs []testColumn) tableFacts {
	return func(tme *replication.TableMapEvent) ([]column, error) {
		names := make([]string, len(tcs))
		colls := map[int]uint64{}
		enums, sets := map[int][]string{}, map[int][]string{}
		jsonCols := map[string]bool{}
		for i, c := range tcs {
			names[i] = fmt.Sprintf("c%d", i)
			if i == 1 {
				names[i] = "c\"1\u2028é"
			}
			if c.coll != 0 {
				colls[i] = c.coll
			}
			if c.typ == gmysql.MYSQL_TYPE_STRING && len(c.meta) == 2 {
				switch c.meta[0] {
				case gmysql.MYSQL_TYPE_ENUM:
					enums[i] = c.names
				case gmysql.MYSQL_TYPE_SET:
					sets[i] = c.names
				}
			}
			if c.json {
				jsonCols[names[i]] = true
			}
		}
		return binlogColumns(tme.ColumnType, tme.ColumnMeta, names, tme.UnsignedMap(), colls, enums, sets, jsonCols, testCharsets)
	}
}

func testTableMap(tcs []testColumn) []byte {
	cols := make([]rawColumn, len(tcs))
	for i, c := range tcs {
		cols[i] = c.rawColumn
	}
	return rawTableMap(cols)
}

// A table of every type the direct path reads.
var (
	colsAll = []testColumn{
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_LONG, unsigned: true}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_TINY}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_TINY, unsigned: true}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_SHORT}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_SHORT, unsigned: true}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_INT24}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_INT24, unsigned: true}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_LONG}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_LONGLONG}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_LONGLONG, unsigned: true}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_FLOAT, meta: []byte{4}}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_DOUBLE, meta: []byte{8}}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_NEWDECIMAL, meta: []byte{12, 2}}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_NEWDECIMAL, meta: []byte{65, 30}}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_BIT, meta: []byte{1, 0}}}, // BIT(1)
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_BIT, meta: []byte{4, 1}}}, // BIT(12)
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_BIT, meta: []byte{0, 8}}}, // BIT(64)
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_YEAR}},                    //
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_DATE}},                    //
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_TIME2, meta: []byte{0}}},  //
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_TIME2, meta: []byte{6}}},  //
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_DATETIME2, meta: []byte{6}}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_TIMESTAMP2, meta: []byte{3}}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_VARCHAR, meta: []byte{200, 0}}, coll: 45},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_VARCHAR, meta: []byte{0x2c, 1}}, coll: 8},  // latin1, 300 bytes
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_STRING, meta: []byte{0xfe, 4}}, coll: 63},  // BINARY(4)
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_STRING, meta: []byte{0xfe, 20}}, coll: 28}, // gbk CHAR
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_BLOB, meta: []byte{2}}, coll: 45},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_BLOB, meta: []byte{4}}, coll: 45, json: true},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_BLOB, meta: []byte{1}}, coll: 63},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_STRING, meta: []byte{gmysql.MYSQL_TYPE_ENUM, 1}}, names: []string{"red", "gr\"een", "blü"}},
		{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_STRING, meta: []byte{gmysql.MYSQL_TYPE_SET, 1}}, names: []string{"a", "b,c", "d"}},
	}
	// Values for colsAll, each image's bytes of one column.
	valuesA = [][]byte{
		le32(4294967295), {0x80}, {0xff}, le16(0x8000), le16(0xffff), {0, 0, 0x80}, {0xff, 0xff, 0xff},
		le32(0x80000000), le64(1 << 63), le64(math.MaxUint64),
		le32(math.Float32bits(1.5)), le64(math.Float64bits(-2.25e-300)),
		decimalBytes12x2(-1234567890.12), decimal65x30(false),
		{1}, {0x0a, 0xaa}, le64(math.MaxUint64),
		{0}, date3(0, 0, 0), time2(true, 838, 59, 59, 0, 0), time2(true, 0, 0, 1, 500000, 6),
		datetime2(0, 0, 0, 0, 0, 0, 0, 6), timestamp2(0, 0, 3),
		text(1, "tëxt \"quoted\"\n✓"), text(2, "caf\xe9 \x80"), text(1, "\x00\xff"), text(1, "\xc4\xe3\xba\xc3"),
		text(2, strings.Repeat("ü", 40)), text(4, `{"k": [1, 2.5, "x"], "n": null}`), text(1, "\x00\x01\x02"),
		{3}, {0b101},
	}
	valuesB = [][]byte{
		le32(7), {0x7f}, {0}, le16(0x7fff), le16(0), {0xff, 0xff, 0x7f}, {0, 0, 0},
		le32(0x7fffffff), le64(math.MaxInt64), le64(0),
		le32(math.Float32bits(float32(math.Inf(-1)))), le64(math.Float64bits(math.NaN())),
		decimalBytes12x2(0), decimal65x30(true),
		{0}, {0, 0}, le64(1),
		{255}, date3(2024, 2, 29), time2(false, 0, 0, 0, 0, 0), time2(true, 0, 0, 0, 1, 6),
		datetime2(2024, 2, 29, 23, 59, 59, 123456, 6), timestamp2(1715000000, 678000, 3),
		text(1, ""), text(2, ""), text(1, "ab"), text(1, ""),
		text(2, "\xff invalid utf-8"), text(4, "not json"), text(1, ""),
		{0}, {0xff},
	}
)

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// text is a CHAR/VARCHAR/BLOB value with a length of n bytes.
func text(n int, s string) []byte {
	b := make([]byte, n, n+len(s))
	v := uint64(len(s))
	for i := range n {
		b[i] = byte(v >> (8 * i))
	}
	return append(b, s...)
}

// time2 is TIME2(dec)'s bytes (MySQL's my_time_packed_to_binary).
func time2(neg bool, h, m, s, usec int, dec byte) []byte {
	packed := int64(h<<12|m<<6|s)<<24 + int64(usec)
	if neg {
		packed = -packed
	}
	switch dec {
	case 1, 2, 3, 4:
		panic("not used")
	case 5, 6:
		v := uint64(packed + timeOffset)
		return []byte{byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	}
	v := uint32(packed>>24 + timeIntOffset)
	return []byte{byte(v >> 16), byte(v >> 8), byte(v)}
}

// decimalBytes12x2 is DECIMAL(12,2)'s bytes of f, as MySQL's decimal2bin
// lays them out: the integral 10 digits as 1 digit in 1 byte and 9 in 4,
// the 2 fraction digits in 1 byte.
func decimalBytes12x2(f float64) []byte {
	neg := f < 0
	if neg {
		f = -f
	}
	cents := int64(math.Round(f * 100))
	ip, fp := cents/100, cents%100
	b := []byte{byte(ip / 1_000_000_000)}
	b = binary.BigEndian.AppendUint32(b, uint32(ip%1_000_000_000))
	b = append(b, byte(fp))
	return signDecimal(b, neg)
}

// decimal65x30 is DECIMAL(65,30)'s bytes of ±12345678901234567890123456789012345.123456789012345678901234567891.
func decimal65x30(neg bool) []byte {
	// integral 35 digits: 8 digits in 4 bytes, then 3 groups of 9.
	b := binary.BigEndian.AppendUint32(nil, 12345678)
	for _, g := range []uint32{901234567, 890123456, 789012345} {
		b = binary.BigEndian.AppendUint32(b, g)
	}
	// fraction 30 digits: 3 groups of 9, then 3 digits in 2 bytes.
	for _, g := range []uint32{123456789, 12345678, 901234567} {
		b = binary.BigEndian.AppendUint32(b, g)
	}
	b = binary.BigEndian.AppendUint16(b, 891)
	return signDecimal(b, neg)
}

func signDecimal(b []byte, neg bool) []byte {
	if neg {
		for i := range b {
			b[i] = ^b[i]
		}
	}
	b[0] ^= 0x80
	return b
}

// image is a row image of the columns present (nil: all), with the
// values given, nil ones NULL.
func image(present []byte, values [][]byte) []byte {
	var nulls []byte
	var vals []byte
	k := 0
	for i, v := range values {
		if present != nil && present[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		if k%8 == 0 {
			nulls = append(nulls, 0)
		}
		if v == nil {
			nulls[k/8] |= 1 << (k % 8)
		} else {
			vals = append(vals, v...)
		}
		k++
	}
	return append(nulls, vals...)
}

func allPresent(ncols int) []byte {
	b := make([]byte, (ncols+7)/8)
	for i := range b {
		b[i] = 0xff
	}
	return b
}

// TestDirectRows renders row events of every type the direct path reads
// from their bytes and through go-mysql, and requires the same JSON:
// extremes of signed and unsigned integers, NaN and infinities, DECIMALs
// of every group size, negatives and zero, BITs, zero and real dates,
// negative and fractional TIMEs, text in UTF-8, latin1, GBK and invalid
// UTF-8, padded BINARY, MariaDB JSON, ENUM and SET names, NULLs, images
// without some columns, and keys of several columns.
func TestDirectRows(t *testing.T) {
	t.Parallel()
	ncols := len(colsAll)
	all := allPresent(ncols)
	minimal := make([]byte, len(all))
	minimal[0] = 0b1000_0101 // c0, c2, c7
	minimal[3] = 0x80        // c31
	nulls := make([][]byte, ncols)
	facts := testFacts(colsAll)
	tm := testTableMap(colsAll)
	pk := []int{0, 23}
	cases := []struct {
		name       string
		typ        replication.EventType
		p1, p2     []byte
		body       []byte
		images     int
		wantInImgs []string // substrings of the images
	}{
		{"insert", replication.WRITE_ROWS_EVENTv2, all, nil,
			cat(image(nil, valuesA), image(nil, valuesB), image(nil, nulls)), 3,
			[]string{`"c0":4294967295,"c\"1\u2028é":-128,"c2":255,"c3":-32768,"c4":65535,"c5":-8388608,"c6":16777215,"c7":-2147483648,"c8":-9223372036854775808,"c9":18446744073709551615,"c10":1.5,"c11":-2.25e-300,"c12":"-1234567890.12","c13":"12345678901234567890123456789012345.123456789012345678901234567891","c14":1,"c15":2730,"c16":18446744073709551615,"c17":0,"c18":"0000-00-00","c19":"-838:59:59","c20":"-00:00:01.500000","c21":"0000-00-00 00:00:00.000000","c22":"0000-00-00 00:00:00.000"`,
				`"c24":"café €"`, `"c25":"AP8AAA=="`, `"c26":"你好"`, `"c28":{"k":[1,2.5,"x"],"n":null}`, `"c29":"AAEC"`, `"c30":"blü","c31":"a,d"`,
				`"c10":"-Inf","c11":"NaN","c12":"0.00","c13":"-12345678901234567890123456789012345.123456789012345678901234567891"`,
				`"c17":2155,"c18":"2024-02-29","c19":"00:00:00","c20":"-00:00:00.000001","c21":"2024-02-29T23:59:59.123456","c22":"2024-05-06T12:53:20.678Z"`,
				`"c27":"\ufffd invalid utf-8","c28":"not json"`, `"c30":"","c31":"a,b,c,d"`,
				`{"c0":null,"c\"1\u2028é":null,`}},
		{"update", replication.UPDATE_ROWS_EVENTv2, all, all,
			cat(image(nil, valuesA), image(nil, valuesB), image(nil, nulls), image(nil, valuesA)), 4, nil},
		{"delete", replication.DELETE_ROWS_EVENTv1, all, nil, cat(image(nil, valuesB), image(nil, valuesA)), 2, nil},
		{"minimal update", replication.UPDATE_ROWS_EVENTv1, minimal, all,
			cat(image(minimal, valuesA), image(nil, valuesB), image(minimal, nulls), image(nil, nulls)), 4,
			[]string{`{"c0":4294967295,"c\"1\u2028é":null,"c2":255,"c3":null`}},
		{"minimal delete", replication.DELETE_ROWS_EVENTv2, minimal, nil, image(minimal, valuesB), 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, err := compareRows(t, facts, pk, rawFormat(), tm, rawRowsEvent(c.typ, ncols, c.p1, c.p2, c.body))
			if err != nil {
				t.Fatal(err)
			}
			if !out.direct {
				t.Fatal("rendered through go-mysql, not from the event's bytes")
			}
			if len(out.images) != c.images {
				t.Fatalf("%d images, want %d", len(out.images), c.images)
			}
			joined := strings.Join(out.images, "\n")
			for _, w := range c.wantInImgs {
				if !strings.Contains(joined, w) {
					t.Errorf("images lack %s:\n%s", w, joined)
				}
			}
		})
	}
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// TestDirectRowsFallback: tables with a column the direct path does not
// read, and events it does not read, go through go-mysql's decoding.
func TestDirectRowsFallback(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cols []testColumn
		typ  replication.EventType
	}{
		{"json", []testColumn{{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_LONG}}, {rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_JSON, meta: []byte{4}}}}, replication.WRITE_ROWS_EVENTv2},
		{"datetime2 beyond 6 digits", []testColumn{{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_DATETIME2, meta: []byte{7}}}}, replication.WRITE_ROWS_EVENTv2},
		{"decimal scale above precision", []testColumn{{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_NEWDECIMAL, meta: []byte{2, 3}}}}, replication.WRITE_ROWS_EVENTv2},
		{"old TIMESTAMP", []testColumn{{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_TIMESTAMP}}}, replication.WRITE_ROWS_EVENTv2},
		{"v0 event", []testColumn{{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_LONG}}}, replication.WRITE_ROWS_EVENTv0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			body := []byte{0}
			for range c.cols {
				body = append(body, 0x80, 0, 0, 0, 0, 0, 0, 0)
			}
			// go-mysql may fail on these bytes or not; both sides agree.
			out, _ := compareRows(t, testFacts(c.cols), nil, rawFormat(), testTableMap(c.cols),
				rawRowsEvent(c.typ, len(c.cols), allPresent(len(c.cols)), nil, body[:1+4*len(c.cols)]))
			if out.direct {
				t.Error("rendered from the event's bytes")
			}
		})
	}
}

// TestDirectRowsTruncated: an event cut anywhere fails like go-mysql's
// decoding does.
func TestDirectRowsTruncated(t *testing.T) {
	t.Parallel()
	ncols := len(colsAll)
	body := cat(image(nil, valuesA), image(nil, valuesB))
	for cut := 1; cut < len(body); cut++ {
		_, err := compareRows(t, testFacts(colsAll), []int{0}, rawFormat(), testTableMap(colsAll),
			rawRowsEvent(replication.UPDATE_ROWS_EVENTv2, ncols, allPresent(ncols), allPresent(ncols), body[:cut]))
		if err == nil {
			t.Fatalf("cut at %d of %d: no error", cut, len(body))
		}
	}
}

// fuzzMenu is the column types FuzzDirectRows builds tables of, from a
// selector and two bytes: every type the direct path reads, metadata
// around what servers write, and two it leaves to go-mysql.
func fuzzColumn(sel, m1, m2 byte) testColumn {
	colls := []uint64{45, 8, 63, 28, 35, 1, 0}
	coll := colls[int(m2>>4)%len(colls)]
	names := []string{"x", "y\"", "zé", "", "w,v"}[:1+int(m2)%5]
	c := testColumn{}
	switch sel % 22 {
	case 0:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_TINY, unsigned: m1&1 != 0}
	case 1:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_SHORT, unsigned: m1&1 != 0}
	case 2:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_INT24, unsigned: m1&1 != 0}
	case 3:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_LONG, unsigned: m1&1 != 0}
	case 4:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_LONGLONG, unsigned: m1&1 != 0}
	case 5:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_FLOAT, meta: []byte{4}}
	case 6:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_DOUBLE, meta: []byte{8}}
	case 7:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_NEWDECIMAL, meta: []byte{m1 % 68, m2 % 33}, unsigned: m1&0x80 != 0}
	case 8:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_BIT, meta: []byte{m1 % 9, m2 % 10}}
	case 9:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_YEAR}
	case 10:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_DATE}
	case 11:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_DATETIME2, meta: []byte{m1 % 8}}
	case 12:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_TIMESTAMP2, meta: []byte{m1 % 8}}
	case 13:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_TIME2, meta: []byte{m1 % 8}}
	case 14:
		c.rawColumn, c.coll = rawColumn{typ: gmysql.MYSQL_TYPE_VARCHAR, meta: []byte{m1, m2 & 1}}, coll
	case 15:
		c.rawColumn, c.coll = rawColumn{typ: gmysql.MYSQL_TYPE_STRING, meta: []byte{0xfe, m1}}, coll
	case 16:
		// CHAR above 255 bytes: the length's high bits in the real type.
		c.rawColumn, c.coll = rawColumn{typ: gmysql.MYSQL_TYPE_STRING, meta: []byte{0xfe ^ (m2&3)<<4, m1}}, coll
	case 17:
		c.rawColumn, c.coll = rawColumn{typ: gmysql.MYSQL_TYPE_BLOB, meta: []byte{m1 % 6}}, coll
		c.json = m2&8 != 0
	case 18:
		c.rawColumn, c.names = rawColumn{typ: gmysql.MYSQL_TYPE_STRING, meta: []byte{gmysql.MYSQL_TYPE_ENUM, m1 % 4}}, names
	case 19:
		c.rawColumn, c.names = rawColumn{typ: gmysql.MYSQL_TYPE_STRING, meta: []byte{gmysql.MYSQL_TYPE_SET, m1 % 10}}, names
	case 20:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_STRING, meta: []byte{m1, m2}}
	default:
		c.rawColumn = rawColumn{typ: gmysql.MYSQL_TYPE_JSON, meta: []byte{m1%4 + 1}}
	}
	return c
}

// fuzzImage is a row image of cols built from src: a NULL bitmap, then
// for each present value bytes of its width (text: a length under 64);
// src runs out into zeros.
func fuzzImage(cols []testColumn, raw []rawCol, present []byte, src *[]byte) []byte {
	next := func() byte {
		if len(*src) == 0 {
			return 0
		}
		c := (*src)[0]
		*src = (*src)[1:]
		return c
	}
	var nulls, vals []byte
	k := 0
	for i := range cols {
		if present[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		if k%8 == 0 {
			nulls = append(nulls, next())
		}
		null := nulls[k/8]&(1<<(k%8)) != 0
		k++
		if null {
			continue
		}
		r := raw[i]
		n := int(r.n)
		switch r.kind {
		case 0: // not readable directly: a few bytes
			n = 4
		case rawDecimal:
			n = decimalSize(int(r.prec), int(r.scale))
		case rawText:
			l := int(next() % 64)
			for j := range n {
				vals = append(vals, byte(l>>(8*j)))
			}
			n = l
		}
		for range n {
			vals = append(vals, next())
		}
	}
	return append(nulls, vals...)
}

// FuzzDirectRows holds the direct decoding of row events to go-mysql's
// decoding rendered by renderBinlog, on tables of any mix of column types
// and metadata, rows of any bytes, any columns present and NULL, every
// event kind, and events cut short or with bytes to spare.
func FuzzDirectRows(f *testing.F) {
	f.Add([]byte{3, 0, 0, 14, 200, 0x01, 7, 12, 2, 11, 6, 0}, byte(0), []byte{0xff}, []byte{0xff}, []byte("\x00\x01\x00\x00\x00\x05hello\x80\x00\x00\x00\x7b\x2d\x99\xb2\x8a\x1c\x2e\x01\xe2\x40"), int8(0))
	f.Add([]byte{13, 6, 0, 13, 0, 0, 13, 3, 0, 13, 1, 0}, byte(1), []byte{0xff}, []byte{0x0f}, []byte("\x00\x7f\xff\xff\xff\xff\xff\x7f\xff\xff\xff\xfe\x7f\xff\xfe\xf6"), int8(0))
	f.Add([]byte{18, 1, 2, 19, 1, 4, 15, 4, 0x30, 16, 44, 1, 17, 2, 0x18}, byte(2), []byte{0x1b}, []byte{}, []byte("\x00\x02\x05\x03ab\x02\xe9\x80\x05{\"a\":1}"), int8(-3))
	f.Add([]byte{7, 65, 30, 7, 10, 10, 7, 9, 0, 8, 4, 1, 8, 0, 8}, byte(4), []byte{0xff}, []byte{0xff}, []byte("\x00\x00\x00\x00\x00"), int8(5))
	f.Add([]byte{4, 1, 0, 21, 3, 0, 20, 0xf7, 1}, byte(0), []byte{0xff}, []byte{}, []byte{}, int8(0))
	f.Fuzz(func(t *testing.T, spec []byte, kind byte, p1, p2, src []byte, trim int8) {
		var cols []testColumn
		for i := 0; i+3 <= len(spec) && len(cols) < 20; i += 3 {
			cols = append(cols, fuzzColumn(spec[i], spec[i+1], spec[i+2]))
		}
		if len(cols) == 0 {
			return
		}
		types := []replication.EventType{replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv2,
			replication.WRITE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv1}
		typ := types[int(kind)%len(types)]
		bitmap := func(b []byte) []byte {
			out := allPresent(len(cols))
			for i := range out {
				if i < len(b) {
					out[i] = b[i]
				}
			}
			return out
		}
		present1, present2 := bitmap(p1), bitmap(p2)
		update := typ == replication.UPDATE_ROWS_EVENTv2 || typ == replication.UPDATE_ROWS_EVENTv1
		if none(present1, len(cols)) || update && none(present2, len(cols)) {
			return // go-mysql's decoding never ends (TestDirectRowsNoColumns)
		}
		raw := make([]rawCol, len(cols))
		for i, c := range cols {
			var m uint16
			switch len(c.meta) {
			case 1:
				m = uint16(c.meta[0])
			case 2:
				m = uint16(c.meta[0])<<8 | uint16(c.meta[1])
				if c.typ == gmysql.MYSQL_TYPE_VARCHAR || c.typ == gmysql.MYSQL_TYPE_BIT {
					m = binary.LittleEndian.Uint16(c.meta)
				}
			}
			raw[i], _ = rawColumnLayout(c.typ, m)
		}
		var body []byte
		rows := 1 + int(kind>>4)%3
		for range rows {
			body = append(body, fuzzImage(cols, raw, present1, &src)...)
			if update {
				body = append(body, fuzzImage(cols, raw, present2, &src)...)
			}
		}
		switch {
		case trim < 0:
			body = body[:max(0, len(body)+int(trim))]
		case trim > 0:
			body = append(body, src[:min(len(src), int(trim))]...)
		}
		facts := testFacts(cols)
		tm := testTableMap(cols)
		p := replication.NewBinlogParser()
		if _, err := p.Parse(rawFormat()); err != nil {
			t.Fatal(err)
		}
		tme, err := p.Parse(tm)
		if err != nil {
			return // a table map go-mysql does not read
		}
		if _, err := facts(tme.Event.(*replication.TableMapEvent)); err != nil {
			return // a character set the source rejects, on both paths
		}
		var pk []int
		for i := range cols {
			if spec[0]&(1<<(i%8)) != 0 {
				pk = append(pk, i)
			}
		}
		compareRows(t, facts, pk, rawFormat(), tm, rawRowsEvent(typ, len(cols), present1, present2, body))
	})
}

// none reports whether a columns-present bitmap names none of n columns.
func none(present []byte, n int) bool {
	for i := range n {
		if bitSet(present, i) {
			return false
		}
	}
	return true
}

// TestDirectRowsNoColumns: row images without a column present take no
// bytes; the direct path fails on such an event rather than loop on it,
// as go-mysql's decoding does.
func TestDirectRowsNoColumns(t *testing.T) {
	t.Parallel()
	cols := []testColumn{{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_LONG}}, {rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_LONG}}}
	out, err := renderRows(t, decodeRows, testFacts(cols), nil, rawFormat(), testTableMap(cols),
		rawRowsEvent(replication.WRITE_ROWS_EVENTv2, 2, []byte{0xfc}, nil, []byte{0}))
	if !errors.Is(err, errNoColumns) {
		t.Fatalf("err = %v (images %q), want errNoColumns", err, out.images)
	}
}

// TestDirectRowsDecimalGroups: a nine-digit DECIMAL group holding a larger
// number (a corrupt event) fails both decodings, the largest valid one
// renders, and a leading group of any size renders as go-mysql's does.
func TestDirectRowsDecimalGroups(t *testing.T) {
	t.Parallel()
	cols := []testColumn{{rawColumn: rawColumn{typ: gmysql.MYSQL_TYPE_NEWDECIMAL, meta: []byte{18, 0}}}} // two groups of nine
	for _, c := range []struct {
		first, second uint32
		want          string // "" for an error
	}{
		{1, 999_999_999, `{"c0":"1999999999"}`},
		{1, 1_000_000_000, ""},
		{0, 1_000_000_000, `{"c0":"1000000000"}`}, // leading: written as it is
		{1_000_000_000, 0, `{"c0":"1000000000000000000"}`},
	} {
		v := signDecimal(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, c.first), c.second), false)
		out, err := compareRows(t, testFacts(cols), nil, rawFormat(), testTableMap(cols),
			rawRowsEvent(replication.WRITE_ROWS_EVENTv2, 1, []byte{1}, nil, append([]byte{0}, v...)))
		switch {
		case c.want == "" && err == nil:
			t.Errorf("%d %d: rendered %q, want an error", c.first, c.second, out.images)
		case c.want != "" && (err != nil || len(out.images) != 1 || out.images[0] != c.want):
			t.Errorf("%d %d: %q, %v; want %s", c.first, c.second, out.images, err, c.want)
		}
	}
}
