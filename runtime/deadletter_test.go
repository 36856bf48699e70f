package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
)

var update = flag.Bool("update", false, "rewrite golden files")

// rewrite changes every event the way a template and an SMT do: new data,
// a changed type, an extension set in place.
type rewrite struct{}

func (rewrite) Apply(r *api.Record) (bool, error) {
	r.Event.Data = []byte(`{"rewritten":true}`)
	r.Event.Type = "rewritten"
	r.Event.SetExtension("step", "rewrite")
	return true, nil
}

// failOn fails the events whose id is in it.
type failOn map[string]bool

func (f failOn) Apply(r *api.Record) (bool, error) {
	if f[r.Event.ID] {
		return false, errors.New("cannot shape " + r.Event.ID)
	}
	return true, nil
}

// jsonSource emits n events with JSON data and an extension, like a real
// source's.
type jsonSource struct{ countSource }

func (s *jsonSource) Read(ctx context.Context) ([]api.Record, error) {
	recs, err := s.countSource.Read(ctx)
	for i := range recs {
		recs[i].Event.Data = []byte(`{"seq":` + string(recs[i].Position) + `}`)
		recs[i].Event.DataContentType = "application/json"
		recs[i].Event.Extensions = map[string]any{"origin": "source"}
	}
	return recs, err
}

func TestDeadLetterGetsTheOriginalEvent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		chain  []runtime.NamedTransform
		reject map[string]bool
		stage  string
	}{
		{"transform failed after another changed it",
			[]runtime.NamedTransform{{Name: "shape", Transform: rewrite{}}, {Name: "check", Transform: failOn{"e-7": true}}},
			nil, "transform check"},
		{"sink rejected a transformed event",
			[]runtime.NamedTransform{{Name: "shape", Transform: rewrite{}}},
			map[string]bool{"e-7": true}, "sink"},
	} {
		for _, helper := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/helper=%v", tc.name, helper), func(t *testing.T) {
				t.Parallel()
				var got []api.Record
				rec := &recordSink{memSink: &memSink{}, recs: &got}
				sink := &memSink{reject: tc.reject}
				cfg := runtime.Config{Source: &jsonSource{countSource{n: 20, batch: 5}}, Sink: sink, Committer: &memCommitter{},
					Transforms: tc.chain, DeadLetter: rec, Tolerance: runtime.ToleranceAll}
				if helper { // the reader's own instance of the chain
					cfg.NewChain = func() ([]runtime.NamedTransform, error) { return tc.chain, nil }
				}
				if _, err := run(t, cfg); err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 {
					t.Fatalf("dead-letter sink got %d records, want 1", len(got))
				}
				ev := got[0].Event
				if ev.ID != "e-7" || string(ev.Data) != `{"seq":7}` || ev.Type != "t" || ev.Extensions["step"] != nil || ev.Extensions["origin"] != "source" {
					t.Errorf("dead letter is not the original event: %+v data %s", ev, ev.Data)
				}
				if ev.Extensions["ferryerrorstage"] != tc.stage || !strings.Contains(ev.Extensions["ferryerror"].(string), "e-7") {
					t.Errorf("error context: %v", ev.Extensions)
				}
				if n := len(sink.IDs()); n != 19 {
					t.Errorf("sink got %d records, want 19", n)
				}
			})
		}
	}
}

// recordSink keeps whole records written to it.
type recordSink struct {
	*memSink
	mu   sync.Mutex
	recs *[]api.Record
}

func (s *recordSink) Write(ctx context.Context, recs []api.Record) error {
	if err := s.memSink.Write(ctx, recs); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	*s.recs = append(*s.recs, recs...)
	return nil
}

func TestDeadLetterEnvelopeGolden(t *testing.T) {
	t.Parallel()
	var got []api.Record
	dlq := &recordSink{memSink: &memSink{}, recs: &got}
	sink := &memSink{failN: 1, reject: map[string]bool{"e-3": true}}
	chain := []runtime.NamedTransform{{Name: "shape", Transform: rewrite{}}, {Name: "check", Transform: failOn{"e-1": true}}}
	src := &jsonSource{countSource{n: 5, batch: 5}}
	_, err := run(t, runtime.Config{Connector: "orders", Task: 2, Source: src, Sink: sink, Committer: &memCommitter{},
		Transforms: chain, DeadLetter: dlq, Tolerance: runtime.ToleranceAll, DeadLetterFormat: runtime.DeadLetterEnvelope,
		Retry: runtime.Retry{Initial: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, r := range got {
		if r.Event.Type != runtime.DeadLetterType || r.Event.DataContentType != "application/json" || string(r.Position) != r.Event.ID[2:] {
			t.Errorf("dead-letter record %+v", r)
		}
		out.Write(r.Event.Data)
		out.WriteByte('\n')
	}
	golden(t, "deadletter_envelope.golden", out.Bytes())
}

// TestWritesOutOfRetriesAreDeadLettered: with tolerance all and a
// dead-letter sink, records whose write ran out of retries are
// dead-lettered with the condition that ended them, and the task goes on.
func TestWritesOutOfRetriesAreDeadLettered(t *testing.T) {
	t.Parallel()
	var got []api.Record
	dlq := &recordSink{memSink: &memSink{}, recs: &got}
	sink := &memSink{failN: 3} // the first chunk's write fails 3 times: 2 retries, then exhausted
	_, err := run(t, runtime.Config{Connector: "c", Source: &jsonSource{countSource{n: 4, batch: 2}}, Sink: sink, Committer: &memCommitter{},
		BatchSize: 2, DeadLetter: dlq, Tolerance: runtime.ToleranceAll, DeadLetterFormat: runtime.DeadLetterEnvelope,
		Retry: runtime.Retry{Strategy: runtime.StrategyExponential, Initial: time.Millisecond, Max: time.Millisecond, MaxAttempts: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if ids := sink.IDs(); strings.Join(ids, ",") != "e-2,e-3" {
		t.Errorf("sink got %v, want e-2,e-3", ids)
	}
	var out bytes.Buffer
	for _, r := range got {
		out.Write(r.Event.Data)
		out.WriteByte('\n')
	}
	golden(t, "deadletter_exhausted.golden", out.Bytes())
}

// TestFailingDeadLetterSinkFailsTheTask: a dead-letter sink that keeps
// failing never loses the record: the task fails loudly, and the failed
// record's position is not committed, so it is read again after a
// restart.
func TestFailingDeadLetterSinkFailsTheTask(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dlq  *memSink
	}{
		{"transient failures outlast the retries", &memSink{failN: 1 << 30}},
		{"fatal failure", &memSink{fatal: errors.New("queue deleted")}},
		{"record refused", &memSink{reject: map[string]bool{"e-13": true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			com := &memCommitter{}
			sink := &memSink{}
			_, err := run(t, runtime.Config{Source: &countSource{n: 40, batch: 40}, Sink: sink, Committer: com,
				Transforms: []runtime.NamedTransform{{Name: "odd", Transform: dropOdd{}}}, DeadLetter: tc.dlq, Tolerance: runtime.ToleranceAll,
				Retry: runtime.Retry{Initial: time.Millisecond, Max: time.Millisecond, Timeout: 50 * time.Millisecond}})
			if err == nil || !strings.Contains(err.Error(), "dead-letter sink failed too") || !strings.Contains(err.Error(), "e-13") {
				t.Fatalf("Run = %v, want a failure naming the dead-letter sink and e-13", err)
			}
			if c, _ := strconv.Atoi(com.get("p")); com.get("p") != "" && c >= 13 {
				t.Errorf("committed %d: the record that could not be dead-lettered (13) would be lost", c)
			}
			for _, id := range sink.IDs() {
				if id == "e-14" || id == "e-16" {
					t.Errorf("sink got %s, after the record the task could not dead-letter", id)
				}
			}
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}
