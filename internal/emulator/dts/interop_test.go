package dts_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/ferryhq/ferry/internal/emulator/dts"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// goavroRecord decodes b with an independent Avro implementation, sharing no
// code with the encoder, reading the embedded schema file as it is: the file
// is a union of named types, so b is prefixed with the union index of Record.
func goavroRecord(t testing.TB, b []byte) (record map[string]any, codec *goavro.Codec) {
	t.Helper()
	codec, err := goavro.NewCodec(string(dts.Schema()))
	if err != nil {
		t.Fatal(err)
	}
	native, rest, err := codec.NativeFromBinary(append([]byte{recordBranch}, b...))
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left after the record", len(rest))
	}
	return native.(map[string]any)["com.alibaba.dts.formats.avro.Record"].(map[string]any), codec
}

// recordBranch is Record's position (13, zigzag-encoded) in record.avsc.
const recordBranch = 13 << 1

func TestIndependentDecoderReadsOurBytes(t *testing.T) {
	t.Parallel()
	c := dts.Change{ID: 42, Op: dts.Update, Database: "shop", Table: "orders", Columns: allTypes,
		Before: allValues(1, "héllo"), After: allValues(1, "wörld"), Timestamp: at, Txid: "7", Position: "9@2",
		Tags: map[string]string{"k": "v"}}
	b, err := dts.Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	rec, codec := goavroRecord(t, b)
	checks := []struct {
		name      string
		got, want any
	}{
		{"id", rec["id"], int64(42)},
		{"operation", rec["operation"], "UPDATE"},
		{"sourceTimestamp", rec["sourceTimestamp"], at.Unix()},
		{"bornTimestamp", rec["bornTimestamp"], at.UnixMilli()},
		{"objectName", rec["objectName"], map[string]any{"string": "shop.orders"}},
		{"sourceTxid", rec["sourceTxid"], "7"},
		{"source", rec["source"], map[string]any{"sourceType": "MySQL", "version": "8.0"}},
		{"tags", rec["tags"], map[string]any{"k": "v"}},
	}
	for _, ck := range checks {
		if !equalNative(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	fields := rec["fields"].(map[string]any)["array"].([]any)
	if len(fields) != len(allTypes) {
		t.Fatalf("%d fields, want %d", len(fields), len(allTypes))
	}
	for i, f := range fields {
		f := f.(map[string]any)
		if f["name"] != allTypes[i].Name || f["dataTypeNumber"] != int32(allTypes[i].Type) {
			t.Errorf("field %d = %v, want %+v", i, f, allTypes[i])
		}
	}
	after := rec["afterImages"].(map[string]any)["array"].([]any)
	const ns = "com.alibaba.dts.formats.avro."
	wantAfter := []struct {
		branch string
		fields map[string]any
	}{
		0:  {ns + "Integer", map[string]any{"precision": int32(64), "value": "1"}},
		2:  {ns + "Decimal", map[string]any{"value": "-12345678901234567890.000123", "precision": int32(38), "scale": int32(6)}},
		4:  {ns + "Character", map[string]any{"charset": "utf8mb4", "value": []byte("wörld")}},
		5:  {ns + "Character", map[string]any{"charset": "latin1", "value": []byte{'c', 0xe9}}},
		6:  {ns + "Timestamp", map[string]any{"timestamp": int64(1_763_800_000), "millis": int32(654_321)}},
		10: {ns + "BinaryObject", map[string]any{"type": "BLOB", "value": []byte{0, 1, 2, 0xff}}},
	}
	for i, w := range wantAfter {
		if w.branch == "" {
			continue
		}
		got, ok := after[i].(map[string]any)[w.branch]
		if !ok {
			t.Errorf("after[%d] = %#v, want branch %s", i, after[i], w.branch)
			continue
		}
		if !equalNative(got, w.fields) {
			t.Errorf("after[%d] = %#v, want %#v", i, got, w.fields)
		}
	}
	if after[13] != nil {
		t.Errorf("after[13] = %#v, want null", after[13])
	}
	if got := after[15].(map[string]any)[ns+"EmptyObject"]; got != "NONE" {
		t.Errorf("after[15] = %#v, want EmptyObject NONE", after[15])
	}

	// And the other way: bytes goavro writes decode with ours.
	back, err := codec.BinaryFromNative(nil, map[string]any{"com.alibaba.dts.formats.avro.Record": rec})
	if err != nil {
		t.Fatal(err)
	}
	if back[0] != recordBranch {
		t.Fatalf("goavro wrote union branch %d", back[0])
	}
	got, err := dts.Decode(back[1:])
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != c.ID || len(got.After) != len(c.After) || got.After[4].(dts.Character).Charset != "utf8mb4" {
		t.Fatalf("goavro bytes decoded to %#v", got)
	}
}

func equalNative(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, v := range a {
			if !equalNative(v, bm[k]) {
				return false
			}
		}
		return true
	case []byte:
		bb, ok := b.([]byte)
		return ok && bytes.Equal(a, bb)
	default:
		return a == b
	}
}

// TestGoldenRecord pins the exact bytes of one record, so a change to the
// schema copy or the codec settings shows up as a diff (go test -update).
func TestGoldenRecord(t *testing.T) {
	t.Parallel()
	c := dts.Change{ID: 1, Op: dts.Insert, Database: "shop", Table: "orders", Columns: allTypes,
		After: allValues(1, "héllo"), Timestamp: time.UnixMilli(1_763_800_000_123).UTC(), Txid: "0", Position: "1@1"}
	b, err := dts.Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "insert.avro")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding changed: got %x\nwant %x", b, want)
	}
}

func BenchmarkEncode(b *testing.B) {
	c := dts.Change{ID: 1, Op: dts.Update, Database: "shop", Table: "orders", Columns: allTypes,
		Before: allValues(1, "héllo"), After: allValues(1, "wörld"), Timestamp: at}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dts.Encode(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	raw, err := dts.Encode(dts.Change{ID: 1, Op: dts.Update, Database: "shop", Table: "orders", Columns: allTypes,
		Before: allValues(1, "héllo"), After: allValues(1, "wörld"), Timestamp: at})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dts.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}
