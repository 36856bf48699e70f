package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ferryhq/ferry/api"
)

// SinkCase describes one sink configuration to check.
type SinkCase struct {
	// Plugin is the descriptor under test.
	Plugin api.SinkPlugin
	// Config holds the plugin's settings, keys relative to its prefix.
	Config map[string]string
	// Prepare, when set, runs once before the first Open.
	Prepare func(t testing.TB)
	// ReadBack returns every event the sink has durably written so far,
	// in any order, duplicates allowed. Nil for sinks that keep nothing
	// readable (a discarding sink): the kit then checks only the calls.
	ReadBack func(t testing.TB) []api.Event
	// KeyedOrder, when set, marks a sink that declares keyed parallel
	// writes: records of different keys may be written at once, records
	// of one key stay in order. It returns the records the sink has
	// durably written so far, with their events' ids, in the order the
	// system keeps each key's records (for Kafka, each partition in
	// offset order), duplicates allowed. The kit then writes interleaved
	// keyed records (KeyedRecords) in several batches and checks that
	// every key's records are held in the order they were written.
	KeyedOrder func(t testing.TB) []api.Record
}

// RunSink runs every sink check as a subtest of t. See the package
// documentation for what is checked.
func RunSink(t *testing.T, c SinkCase) {
	t.Helper()
	baseline := goleak.IgnoreCurrent()
	if !t.Run("spec", func(t *testing.T) { checkSpec(t, c.Plugin.Spec, c.Config) }) {
		return
	}
	if c.Prepare != nil {
		c.Prepare(t)
	}
	t.Run("lifecycle", func(t *testing.T) {
		sinkLifecycle(t, c)
		goleak.VerifyNone(t, baseline)
	})
	t.Run("restart", func(t *testing.T) {
		sinkRestart(t, c)
		goleak.VerifyNone(t, baseline)
	})
	if c.KeyedOrder != nil {
		t.Run("key-order", func(t *testing.T) {
			sinkKeyOrder(t, c)
			goleak.VerifyNone(t, baseline)
		})
	}
}

func openSink(t testing.TB, c SinkCase) api.Sink {
	t.Helper()
	cfg, err := c.Plugin.Spec.Parse(c.Config)
	if err != nil {
		t.Fatalf("Spec.Parse: %v", err)
	}
	s, err := c.Plugin.New(api.TaskConfig{Connector: Connector, Task: 0, Tasks: 1, Config: cfg, Logger: logger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if s == nil {
		t.Fatalf("New returned a nil sink and no error")
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// writeFlush writes recs in one batch and flushes when the sink buffers,
// as the engine does before acknowledging.
func writeFlush(t testing.TB, s api.Sink, recs []api.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	if err := s.Write(ctx, recs); err != nil {
		t.Fatalf("Write(%d records): %v", len(recs), err)
	}
	if f, ok := s.(api.Flusher); ok {
		if err := f.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	}
}

func closeSink(t testing.TB, s api.Sink, ctx context.Context) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Close(ctx) }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(closeTimeout):
		t.Fatalf("Close did not return within %v", closeTimeout)
	}
}

func sinkLifecycle(t *testing.T, c SinkCase) {
	s := openSink(t, c)
	writeFlush(t, s, nil) // an empty batch is legal
	closeSink(t, s, context.Background())

	s = openSink(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	closeSink(t, s, ctx)
}

// sinkRestart writes, flushes and closes; reopens, writes and flushes
// more; and checks that everything written can be read back.
func sinkRestart(t *testing.T, c SinkCase) {
	first, second := Records("first", 25), Records("second", 25)
	s := openSink(t, c)
	writeFlush(t, s, first[:10])
	writeFlush(t, s, first[10:])
	closeSink(t, s, context.Background())

	s = openSink(t, c)
	writeFlush(t, s, second)
	if c.ReadBack == nil {
		closeSink(t, s, context.Background())
		return
	}
	// Read back before Close: a flushed record must already be durable.
	got := c.ReadBack(t)
	closeSink(t, s, context.Background())
	byID := map[string]api.Event{}
	for _, e := range got {
		byID[e.ID] = e
	}
	for _, r := range append(first, second...) {
		e, ok := byID[r.Event.ID]
		if !ok {
			t.Errorf("event %q was written and flushed but is not read back", r.Event.ID)
			continue
		}
		if e.Source != r.Event.Source || e.Type != r.Event.Type {
			t.Errorf("event %q read back as source %q type %q; want %q %q", e.ID, e.Source, e.Type, r.Event.Source, r.Event.Type)
		}
		if !sameJSON(e.Data, r.Event.Data) {
			t.Errorf("event %q data read back as %s; want %s", e.ID, e.Data, r.Event.Data)
		}
	}
}

// sameJSON compares two JSON documents by value, since a sink may
// re-encode data.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// Records returns n distinct records with JSON data, ids "<run>-<i>" and
// decimal positions, for sink tests and benchmarks.
func Records(run string, n int) []api.Record {
	recs := make([]api.Record, n)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range recs {
		recs[i] = api.Record{
			Event: api.Event{
				ID:              run + "-" + strconv.Itoa(i),
				Source:          "/ferry/apitest",
				SpecVersion:     api.SpecVersion,
				Type:            "ferry.apitest.v1",
				Time:            t0.Add(time.Duration(i) * time.Millisecond),
				DataContentType: "application/json",
				Data:            []byte(`{"run":"` + run + `","i":` + strconv.Itoa(i) + `}`),
			},
			Partition: run,
			Position:  api.Position(strconv.Itoa(i)),
		}
	}
	return recs
}
