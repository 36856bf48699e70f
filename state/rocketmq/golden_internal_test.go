package rocketmq

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestRecordFormatGolden pins the persisted record format: workers of
// different versions read each other's records, so a change here must be
// deliberate (and usually a new envelope version).
func TestRecordFormatGolden(t *testing.T) {
	t.Parallel()
	env := func(typ, key string, gen int64) record {
		return record{Type: typ, Key: key, Writer: "worker-1", Instance: "00000000000000aa", Nonce: 7, Generation: gen, Time: t0}
	}
	st := newView()
	st.offsets["orders"] = map[string]storedOffset{"p0": {generation: 3, position: api.Position("mysql-bin.000042:1234")}}
	snapData, err := st.encodePart(kindOffsets)
	if err != nil {
		t.Fatal(err)
	}
	items := []struct {
		r       record
		payload any
	}{
		{env(recConnectorPut, "orders", 0), connectorPayload{Config: map[string]string{"source": "generator", "sink": "file"}, Target: state.TargetRunning}},
		{env(recConnectorDelete, "orders", 0), nil},
		{env(recOffsetsCommit, "orders", 3), offsetsPayload{Offsets: []partitionPos{newPartitionPos("p0", api.Position("mysql-bin.000042:1234")), newPartitionPos("\xff", api.Position{})}}},
		{env(recOffsetsAlter, "orders", 0), offsetsPayload{Offsets: []partitionPos{newPartitionPos("p0", nil)}}},
		{env(recOffsetsAlter, "orders", 0), offsetsPayload{Reset: true}},
		{env(recStatusPut, "orders", 3), statusPayload{Task: state.ConnectorTask, State: state.StateFailed, WorkerID: "worker-1", Trace: "boom", Updated: t0}},
		{env(recStatusClear, "orders", 0), nil},
		{env(recSnapshot, kindOffsets, 0), chunkPayload{ID: "00000000000000aa-1", Kind: kindOffsets, Topic: "ferry-prod-offsets", Chunk: 0, Chunks: 1,
			Covers: map[string]int64{"broker-a/0": 12, "broker-a/1": 0}, Records: 12, Data: snapData}},
	}
	var buf bytes.Buffer
	for _, it := range items {
		b, err := encodeRecord(it.r, it.payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeRecord(b); err != nil {
			t.Fatalf("golden record does not decode: %v", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	path := filepath.Join("testdata", "records.golden")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("record format changed:\n got %s\nwant %s", buf.Bytes(), want)
	}
}

func BenchmarkApplyCommit(b *testing.B) {
	st := newView()
	r, err := encodeRecord(record{Type: recOffsetsCommit, Key: "orders", Generation: 1, Time: t0},
		offsetsPayload{Offsets: encodeOffsets(map[string]api.Position{"p0": api.Position("mysql-bin.000042:1234"), "p1": api.Position("x")})})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec, err := decodeRecord(r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.apply(rec, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
}
