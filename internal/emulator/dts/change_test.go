package dts_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/emulator/dts"
)

var at = time.UnixMilli(1_763_800_000_123).UTC()

func i32(v int32) *int32 { return &v }

// allTypes is one column of every value record the emulator supports.
var allTypes = []dts.Column{
	{Name: "id", Type: dts.TypeLongLong},
	{Name: "big", Type: dts.TypeLongLong},
	{Name: "price", Type: dts.TypeNewDecimal},
	{Name: "ratio", Type: dts.TypeDouble},
	{Name: "name", Type: dts.TypeVarString},
	{Name: "legacy", Type: dts.TypeString},
	{Name: "updated", Type: dts.TypeTimestamp},
	{Name: "created", Type: dts.TypeDateTime},
	{Name: "day", Type: dts.TypeDate},
	{Name: "clock", Type: dts.TypeTime},
	{Name: "payload", Type: dts.TypeBlob},
	{Name: "doc", Type: dts.TypeJSON},
	{Name: "shape", Type: dts.TypeGeometry},
	{Name: "note", Type: dts.TypeVarString},
	{Name: "zoned", Type: dts.TypeVarchar + 100},
	{Name: "empty", Type: dts.TypeVarString},
}

func allValues(id int64, name string) []dts.Value {
	return []dts.Value{
		dts.Int(id),
		dts.Uint(18446744073709551615),
		dts.Dec("-12345678901234567890.000123", 38, 6),
		dts.Float{Value: 0.1, Precision: 53, Scale: -1},
		dts.Text(name),
		dts.Character{Charset: "latin1", Value: []byte{'c', 0xe9}}, // "cé" in latin1, not UTF-8
		dts.TimestampOf(time.Unix(1_763_800_000, 654_321_000)),
		dts.DateTimeOf(time.Date(2026, 11, 23, 7, 8, 9, 120_000, time.UTC)),
		dts.DateOf(time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)),
		dts.DateTime{Hour: i32(-838), Minute: i32(59), Second: i32(59)},
		dts.Bytes([]byte{0, 1, 2, 0xff}),
		dts.JSON(`{"a":[1,2]}`),
		dts.BinaryGeometry{Type: "POINT", Value: []byte{1, 1, 0, 0, 0}},
		nil, // SQL NULL
		dts.TimestampWithTimeZone{Value: dts.DateTimeOf(at), Timezone: "+08:00"},
		dts.EmptyNone,
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		c    dts.Change
	}{
		{"insert", dts.Change{ID: 7, Op: dts.Insert, Database: "shop", Table: "orders", Columns: allTypes,
			After: allValues(1, "héllo"), Timestamp: at, Txid: "0", Position: "1234@5", SafePosition: "1200@5",
			Tags: map[string]string{"pk_uk_info": `{"PRIMARY":["id"]}`}}},
		{"update", dts.Change{ID: 8, Op: dts.Update, Database: "shop", Table: "orders", Columns: allTypes,
			Before: allValues(1, "héllo"), After: allValues(1, "world"), Timestamp: at.Add(time.Second)}},
		{"delete", dts.Change{ID: 9, Op: dts.Delete, Database: "shop", Table: "orders", Columns: allTypes,
			Before: allValues(1, "world"), Timestamp: at.Add(2 * time.Second)}},
		{"all null row", dts.Change{Op: dts.Insert, Database: "d", Table: "t",
			Columns: []dts.Column{{Name: "a", Type: dts.TypeLong}}, After: []dts.Value{nil}, Timestamp: at}},
		{"ddl", dts.DDLChange(at, "shop", "orders", "ALTER TABLE orders ADD COLUMN c INT")},
		{"ddl on database", dts.DDLChange(at, "shop", "", "CREATE DATABASE shop")},
		{"begin", dts.BeginTx(at, "tx-1")},
		{"commit", dts.CommitTx(at, "tx-1")},
		{"heartbeat", dts.HeartbeatAt(at)},
		{"other source", dts.Change{Op: dts.Heartbeat, Timestamp: at,
			Source: dts.Source{Type: dts.SourcePostgreSQL, Version: "16"}}},
		{"dotted table", dts.Change{Op: dts.Insert, Database: "d", Table: "t.x",
			Columns: []dts.Column{{Name: "a", Type: dts.TypeLong}}, After: []dts.Value{dts.Int(1)}, Timestamp: at}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := dts.Encode(tc.c)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := dts.Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.c) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, tc.c)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	t.Parallel()
	cols := []dts.Column{{Name: "a", Type: dts.TypeLong}}
	cases := []struct {
		name string
		c    dts.Change
	}{
		{"no op", dts.Change{Timestamp: at}},
		{"unknown op", dts.Change{Op: "MERGE", Timestamp: at}},
		{"insert without table", dts.Change{Op: dts.Insert, Database: "d", Columns: cols, After: []dts.Value{dts.Int(1)}}},
		{"insert without columns", dts.Change{Op: dts.Insert, Database: "d", Table: "t", After: []dts.Value{}}},
		{"insert with before", dts.Change{Op: dts.Insert, Database: "d", Table: "t", Columns: cols,
			Before: []dts.Value{dts.Int(1)}, After: []dts.Value{dts.Int(1)}}},
		{"delete without before", dts.Change{Op: dts.Delete, Database: "d", Table: "t", Columns: cols}},
		{"update without after", dts.Change{Op: dts.Update, Database: "d", Table: "t", Columns: cols,
			Before: []dts.Value{dts.Int(1)}}},
		{"image too short", dts.Change{Op: dts.Insert, Database: "d", Table: "t", Columns: cols, After: []dts.Value{}}},
		{"wrong value type", dts.Change{Op: dts.Insert, Database: "d", Table: "t", Columns: cols,
			After: []dts.Value{dts.Text("1")}}},
		{"ddl without statement", dts.Change{Op: dts.DDL, Database: "d"}},
		{"ddl with rows", dts.Change{Op: dts.DDL, DDL: "DROP TABLE t", Columns: cols, After: []dts.Value{dts.Int(1)}}},
		{"begin with ddl", dts.Change{Op: dts.Begin, DDL: "x"}},
		{"unknown source", dts.Change{Op: dts.Begin, Source: dts.Source{Type: "Cassandra"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := dts.Encode(tc.c); !errors.Is(err, dts.ErrInvalidChange) {
				t.Fatalf("Encode error = %v, want ErrInvalidChange", err)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	good, err := dts.Encode(dts.Change{Op: dts.Insert, Database: "d", Table: "t",
		Columns: []dts.Column{{Name: "a", Type: dts.TypeLong}}, After: []dts.Value{dts.Int(1)}, Timestamp: at})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)/2]},
		{"garbage", []byte("definitely not avro at all, just text")},
		{"huge array length", []byte{2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0xfe, 0xff, 0xff, 0xff, 0x0f}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := dts.Decode(tc.b); !errors.Is(err, dts.ErrMalformedRecord) {
				t.Fatalf("Decode error = %v, want ErrMalformedRecord", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range []dts.Change{
		{Op: dts.Insert, Database: "d", Table: "t", Columns: allTypes, After: allValues(3, "x"), Timestamp: at},
		dts.DDLChange(at, "d", "t", "DROP TABLE t"),
		dts.HeartbeatAt(at),
	} {
		b, err := dts.Encode(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := dts.Decode(b)
		if err != nil {
			if !errors.Is(err, dts.ErrMalformedRecord) {
				t.Fatalf("Decode error %v is not ErrMalformedRecord", err)
			}
			return
		}
		// Whatever decodes must encode again unless it is a shape DTS
		// never sends, and then decode to the same change.
		again, err := dts.Encode(c)
		if err != nil {
			if !errors.Is(err, dts.ErrInvalidChange) {
				t.Fatalf("re-Encode error %v is not ErrInvalidChange", err)
			}
			return
		}
		c2, err := dts.Decode(again)
		if err != nil {
			t.Fatalf("re-Decode: %v", err)
		}
		if !reflect.DeepEqual(normalize(c), normalize(c2)) {
			t.Fatalf("re-encoded change differs:\n%#v\n%#v", c, c2)
		}
	})
}

// normalize drops what the wire form legitimately cannot distinguish.
func normalize(c dts.Change) dts.Change {
	if c.Source == dts.DefaultSource {
		c.Source = dts.Source{}
	}
	return c
}
