package state

import (
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/ferryhq/ferry/api"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestBoltLayoutGolden pins the on-disk format: a change to it must be a
// deliberate new version, not an accident.
func TestBoltLayoutGolden(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ferry.db")
	clock := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)
	s, err := OpenBolt(path, WithClock(func() time.Time { clock = clock.Add(time.Second); return clock }))
	if err != nil {
		t.Fatal(err)
	}
	steps := []error{
		put(s, Connector{Name: "orders", Config: map[string]string{"source": "generator", "sink": "file"}, Target: TargetRunning}),
		put(s, Connector{Name: "orders", Config: map[string]string{"source": "generator"}, Target: TargetPaused}),
		put(s, Connector{Name: "users", Target: TargetStopped}),
		s.CommitOffsets(ctx, "orders", 3, map[string]api.Position{"": api.Position("x"), "p0": {0x00, 0xff}, "p1": api.Position("mysql-bin.000001:4")}),
		s.AlterOffsets(ctx, "users", map[string]api.Position{"q": api.Position("7")}),
		s.PutStatus(ctx, Status{Connector: "orders", Task: ConnectorTask, State: StateRunning, WorkerID: "127.0.0.1:8083", Generation: 3}),
		s.PutStatus(ctx, Status{Connector: "orders", Task: 1, State: StateFailed, WorkerID: "127.0.0.1:8083", Trace: "boom", Generation: -2,
			Updated: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))}),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got := dumpBolt(t, path)
	golden := filepath.Join("testdata", "bolt_layout.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("on-disk layout changed (run with -update if deliberate):\n--- got\n%s--- want\n%s", got, want)
	}
}

func put(s Store, c Connector) error {
	_, err := s.PutConnector(context.Background(), c)
	return err
}

// dumpBolt prints every bucket, sequence, key and value of a bbolt file:
// printable values as text, others in hex.
func dumpBolt(t *testing.T, path string) string {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	var walk func(prefix string, bk *bbolt.Bucket)
	walk = func(prefix string, bk *bbolt.Bucket) {
		if seq := bk.Sequence(); seq != 0 {
			fmt.Fprintf(&b, "%s (sequence %d)\n", prefix, seq)
		}
		_ = bk.ForEach(func(k, v []byte) error {
			name := prefix + "/" + showBytes(k)
			if v == nil {
				walk(name, bk.Bucket(k))
				return nil
			}
			fmt.Fprintf(&b, "%s = %s\n", name, showBytes(v))
			return nil
		})
	}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bbolt.Bucket) error {
			fmt.Fprintf(&b, "[%s]\n", name)
			walk(string(name), bk)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func showBytes(p []byte) string {
	for _, c := range p {
		if c < 0x20 || c > 0x7e {
			return "0x" + hex.EncodeToString(p)
		}
	}
	return string(p)
}

func TestBoltRefusesOtherFormatVersion(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ferry.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyVersion, []byte("2")) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBolt(path); err == nil || !strings.Contains(err.Error(), "unsupported store format version") {
		t.Fatalf("OpenBolt of a version-2 file: err = %v, want unsupported format", err)
	}
}

func TestDecodeOffset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      []byte
		gen     int64
		pos     api.Position
		wantErr string
	}{
		{"empty", nil, 0, nil, "empty"},
		{"unknown version", []byte{0x02, 0x00}, 0, nil, "version 2"},
		{"truncated varint", []byte{0x01, 0x80}, 0, nil, "varint"},
		{"no position", []byte{0x01, 0x00}, 0, api.Position{}, ""},
		{"negative generation", []byte{0x01, 0x03, 'a'}, -2, api.Position("a"), ""},
		{"round trip", encodeOffset(1<<40, api.Position{0, 1, 2}), 1 << 40, api.Position{0, 1, 2}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeOffset(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.generation != tt.gen || !bytes.Equal(got.position, tt.pos) || got.position == nil {
				t.Errorf("decode = (%d, %q), want (%d, %q)", got.generation, got.position, tt.gen, tt.pos)
			}
		})
	}
}

// FuzzDecodeOffset: any bytes decode or fail cleanly, and what decodes
// re-encodes to a value that decodes the same.
func FuzzDecodeOffset(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x01, 0x00})
	f.Add(encodeOffset(7, api.Position("mysql-bin.000001:4")))
	f.Add(encodeOffset(-1, api.Position{0xff}))
	f.Add([]byte{0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := decodeOffset(in)
		if err != nil {
			return
		}
		again, err := decodeOffset(encodeOffset(got.generation, got.position))
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if again.generation != got.generation || !bytes.Equal(again.position, got.position) {
			t.Fatalf("round trip changed (%d, %q) into (%d, %q)", got.generation, got.position, again.generation, again.position)
		}
	})
}
