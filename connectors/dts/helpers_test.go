package dts_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/dts"
	emu "github.com/ferryhq/ferry/internal/emulator/dts"
)

var seq atomic.Int64

const testPass = "s3cret"

// bed is a private DTS emulator (store failovers must not reach other
// tests) and the source settings that read it.
type bed struct {
	t   testing.TB
	srv *emu.Server
	cfg emu.Config
}

func newBed(t testing.TB) *bed {
	t.Helper()
	n := seq.Add(1)
	cfg := emu.Config{Addr: "127.0.0.1:0", User: "ferry", Password: testPass,
		Group: fmt.Sprintf("dtsg_%d", n), Topic: fmt.Sprintf("cn_hangzhou_rm_ferry_%d_version2", n)}
	srv, err := emu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return &bed{t: t, srv: srv, cfg: cfg}
}

// config returns the source settings, then kv's overrides.
func (b *bed) config(kv ...string) map[string]string {
	m := map[string]string{
		"brokers": strings.Join(b.srv.Brokers(), ","), "topic": b.cfg.Topic, "sid": b.cfg.Group,
		"user": b.cfg.User, "password": b.cfg.Password, "fetch.max.wait": "100ms",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func (b *bed) publish(changes ...emu.Change) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.srv.Publish(ctx, changes...); err != nil {
		b.t.Fatal(err)
	}
}

// newSource parses raw as the engine does and builds a task's source.
func newSource(t testing.TB, raw map[string]string, committed map[string]api.Position) (api.Source, *[]string) {
	t.Helper()
	return newNamedSource(t, "dts-test", raw, committed)
}

// newNamedSource is newSource for a connector called name.
func newNamedSource(t testing.TB, name string, raw map[string]string, committed map[string]api.Position) (api.Source, *[]string) {
	t.Helper()
	c, err := dts.Source.Spec.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := dts.Source.Validate(c); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	src, err := dts.Source.New(api.TaskConfig{Connector: name, Tasks: 1, Config: c, Committed: committed,
		Logger: testLogger(), OnWarning: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	return src, &warnings
}

// open opens src and closes it at the test's end.
func open(t testing.TB, src api.Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := src.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close(context.Background()) })
}

// readEvents reads until n non-heartbeat records arrived (heartbeats are
// returned too, in order).
func readEvents(t testing.TB, src api.Source, n int) []api.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []api.Record
	events := 0
	for events < n {
		recs, err := src.Read(ctx)
		if err != nil {
			if api.IsRetryable(err) && !errors.Is(err, context.DeadlineExceeded) {
				continue // the engine retries these
			}
			t.Fatalf("read after %d events: %v", events, err)
		}
		for _, r := range recs {
			out = append(out, r)
			if r.Event.Type != dts.TypeHeartbeat {
				events++
			}
		}
	}
	return out
}

// quiet checks that src has nothing more to say but heartbeats for d.
func quiet(t testing.TB, src api.Source, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		recs, err := src.Read(ctx)
		if err != nil {
			return
		}
		for _, r := range recs {
			if r.Event.Type != dts.TypeHeartbeat {
				t.Fatalf("unexpected record %s %s", r.Event.ID, r.Event.Data)
			}
		}
	}
}

func events(recs []api.Record) []api.Record {
	var out []api.Record
	for _, r := range recs {
		if r.Event.Type != dts.TypeHeartbeat {
			out = append(out, r)
		}
	}
	return out
}

func ids(recs []api.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Event.ID
	}
	return out
}

// envelope is the data of a change event.
type envelope struct {
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Op     string          `json:"op"`
	DDL    string          `json:"ddl"`
	Source struct {
		DB       string `json:"db"`
		Table    string `json:"table"`
		RecordID int64  `json:"record_id"`
	} `json:"source"`
	TsMs int64 `json:"ts_ms"`
}

func decode(t testing.TB, r api.Record) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(r.Event.Data, &e); err != nil {
		t.Fatalf("%s: %v: %s", r.Event.ID, err, r.Event.Data)
	}
	return e
}

var orderCols = []emu.Column{{Name: "id", Type: emu.TypeLongLong}, {Name: "note", Type: emu.TypeVarString}}

func row(id int, note string) []emu.Value { return []emu.Value{emu.Int(int64(id)), emu.Text(note)} }

func insert(id int, note string, at time.Time) emu.Change {
	return emu.Change{Op: emu.Insert, Database: "shop", Table: "orders", Columns: orderCols, After: row(id, note), Timestamp: at}
}

func update(id int, before, after string, at time.Time) emu.Change {
	return emu.Change{Op: emu.Update, Database: "shop", Table: "orders", Columns: orderCols,
		Before: row(id, before), After: row(id, after), Timestamp: at}
}

func del(id int, note string, at time.Time) emu.Change {
	return emu.Change{Op: emu.Delete, Database: "shop", Table: "orders", Columns: orderCols, Before: row(id, note), Timestamp: at}
}

func testLogger() *slog.Logger {
	if os.Getenv("FERRY_DTS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
