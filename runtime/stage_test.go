package runtime_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
)

// keepAll passes every record and counts them.
type keepAll struct{ n *int }

func (k keepAll) Apply(r *api.Record) (bool, error) { *k.n++; return true, nil }

// A sink failing while the chain stage has batches in hand ends the task
// with the sink's error; no stage is left blocked (goleak checks).
func TestChainStageSinkFailureStopsEverything(t *testing.T) {
	t.Parallel()
	var applied int
	start := time.Now()
	_, err := run(t, runtime.Config{
		Source: &countSource{n: 1 << 40, batch: 100}, Sink: &memSink{fatal: errors.New("table dropped")},
		Committer:  &memCommitter{},
		Transforms: []runtime.NamedTransform{{Name: "keep", Transform: keepAll{&applied}}},
	})
	if err == nil || !strings.Contains(err.Error(), "table dropped") {
		t.Fatalf("err = %v, want the sink's error", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the task took %v to stop after a fatal sink error", took)
	}
}

// counted passes records on and counts them; slow sleeps every 100th
// record, so the chain stage falls behind; failOn fails that event.
type counted struct {
	n      *atomic.Int64
	slow   bool
	failOn string
	reject func(r *api.Record) bool
}

func (c counted) Apply(r *api.Record) (bool, error) {
	c.n.Add(1)
	if c.slow && strings.HasSuffix(r.Event.ID, "00") {
		time.Sleep(2 * time.Millisecond)
	}
	if r.Event.ID == c.failOn || c.reject != nil && c.reject(r) {
		return false, errors.New("cannot shape " + r.Event.ID)
	}
	return true, nil
}

// helperChain is a Config whose chain stage is slow and whose reader has
// a fast instance of its own (NewChain).
func helperChain(stage, reader *atomic.Int64, failOn string, reject func(*api.Record) bool) (chain []runtime.NamedTransform, newChain func() ([]runtime.NamedTransform, error)) {
	chain = []runtime.NamedTransform{{Name: "shape", Transform: counted{n: stage, slow: true, failOn: failOn, reject: reject}}}
	newChain = func() ([]runtime.NamedTransform, error) {
		return []runtime.NamedTransform{{Name: "shape", Transform: counted{n: reader, failOn: failOn, reject: reject}}}, nil
	}
	return chain, newChain
}

// wantInOrder checks ids are e-from, e-from+1, … with no gap.
func wantInOrder(t *testing.T, ids []string, n int, skip func(i int) bool) {
	t.Helper()
	k := 0
	for i := range n {
		if skip != nil && skip(i) {
			continue
		}
		if k >= len(ids) || ids[k] != "e-"+strconv.Itoa(i) {
			got := "end"
			if k < len(ids) {
				got = ids[k]
			}
			t.Fatalf("record %d: got %s, want e-%d", k, got, i)
		}
		k++
	}
	if k != len(ids) {
		t.Fatalf("%d records after the last expected one", len(ids)-k)
	}
}

// When the chain stage is behind, the reader runs the chain on batches
// itself with its own instance: both instances work, and the sink still
// sees every record once, in order.
func TestReaderRunsTheChainWhenTheStageIsBehind(t *testing.T) {
	t.Parallel()
	const n = 20000
	var stage, reader atomic.Int64
	chain, newChain := helperChain(&stage, &reader, "", nil)
	sink, com := &memSink{}, &memCommitter{}
	task, err := run(t, runtime.Config{
		Source: &countSource{n: n, batch: 100}, Sink: sink, Committer: com,
		Transforms: chain, NewChain: newChain,
	})
	if err != nil || !task.Finished() {
		t.Fatalf("Run: %v, finished %v", err, task.Finished())
	}
	wantInOrder(t, sink.IDs(), n, nil)
	if stage.Load() == 0 || reader.Load() == 0 || stage.Load()+reader.Load() != n {
		t.Errorf("chain stage applied %d, reader %d; want both > 0, %d in all", stage.Load(), reader.Load(), n)
	}
	if got := com.get("p"); got != strconv.Itoa(n-1) {
		t.Errorf("committed %q, want %d", got, n-1)
	}
}

// A record that fails with tolerance none stops the task whichever
// instance of the chain met it; nothing from it on is written or
// committed.
func TestChainFailureStopsTheTaskFromEitherInstance(t *testing.T) {
	t.Parallel()
	const n, bad = 20000, 12345
	var stage, reader atomic.Int64
	chain, newChain := helperChain(&stage, &reader, "e-"+strconv.Itoa(bad), nil)
	sink, com := &memSink{}, &memCommitter{}
	_, err := run(t, runtime.Config{
		Source: &countSource{n: n, batch: 100}, Sink: sink, Committer: com,
		Transforms: chain, NewChain: newChain,
	})
	if !api.IsFatal(err) || !strings.Contains(err.Error(), "cannot shape e-12345") {
		t.Fatalf("err = %v, want the fatal failure of e-%d", err, bad)
	}
	ids := sink.IDs()
	wantInOrder(t, ids, len(ids), nil)
	if len(ids) > bad {
		t.Errorf("%d records written, want at most the %d before e-%d", len(ids), bad, bad)
	}
	if c, _ := strconv.Atoi(com.get("p")); c >= bad {
		t.Errorf("committed %d, at or past the failed record %d", c, bad)
	}
}

// With tolerance all, both instances send rejects to the dead-letter sink
// (writes serialised: -race checks), and every other record is written in
// order.
func TestBothChainInstancesDeadLetter(t *testing.T) {
	t.Parallel()
	const n = 20000
	var stage, reader atomic.Int64
	every7 := func(r *api.Record) bool { i, _ := strconv.Atoi(string(r.Position)); return i%7 == 0 }
	chain, newChain := helperChain(&stage, &reader, "", every7)
	sink, dlq, com := &memSink{}, &memSink{}, &memCommitter{}
	task, err := run(t, runtime.Config{
		Source: &countSource{n: n, batch: 100}, Sink: sink, DeadLetter: dlq, Committer: com,
		Tolerance: runtime.ToleranceAll, Transforms: chain, NewChain: newChain,
	})
	if err != nil || !task.Finished() {
		t.Fatalf("Run: %v, finished %v", err, task.Finished())
	}
	if stage.Load() == 0 || reader.Load() == 0 {
		t.Errorf("chain stage applied %d, reader %d; want both > 0", stage.Load(), reader.Load())
	}
	wantInOrder(t, sink.IDs(), n, func(i int) bool { return i%7 == 0 })
	dead := dlq.IDs()
	slices.SortFunc(dead, func(a, b string) int {
		x, _ := strconv.Atoi(a[2:])
		y, _ := strconv.Atoi(b[2:])
		return x - y
	})
	wantInOrder(t, dead, n, func(i int) bool { return i%7 != 0 })
	if got := com.get("p"); got != strconv.Itoa(n-1) {
		t.Errorf("committed %q, want %d", got, n-1)
	}
}

// ctxSink is a dead-letter sink whose first write signals started, takes
// a while, and fails if its context ended meanwhile.
type ctxSink struct {
	memSink
	once    sync.Once
	started chan struct{}
}

func (s *ctxSink) Write(ctx context.Context, recs []api.Record) error {
	first := false
	s.once.Do(func() { first = true; close(s.started) })
	if first {
		time.Sleep(50 * time.Millisecond)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.memSink.Write(ctx, recs)
}

// A soft stop that begins while the reader's own chain writes a record to
// the dead-letter sink lets that write finish, as it does for the chain
// stage: the task stops cleanly instead of failing.
func TestSoftStopLetsTheReadersDeadLetterWriteFinish(t *testing.T) {
	t.Parallel()
	var stage, reader atomic.Int64
	all := func(*api.Record) bool { return true }
	dlq := &ctxSink{started: make(chan struct{})}
	task, err := runtime.New(runtime.Config{
		Source: &countSource{n: 1 << 40, batch: 100}, Sink: &memSink{}, DeadLetter: dlq, Committer: &memCommitter{},
		Tolerance:  runtime.ToleranceAll,
		Transforms: []runtime.NamedTransform{{Name: "shape", Transform: counted{n: &stage, slow: true}}},
		// Only the reader's instance rejects, so every dead letter is its.
		NewChain: func() ([]runtime.NamedTransform, error) {
			return []runtime.NamedTransform{{Name: "shape", Transform: counted{n: &reader, reject: all}}}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-dlq.started:
		case <-time.After(10 * time.Second):
		}
		cancel()
	}()
	if err := task.Run(ctx); err != nil {
		t.Fatalf("Run after a soft stop = %v, want nil", err)
	}
	if reader.Load() == 0 || len(dlq.IDs()) == 0 {
		t.Fatalf("the reader applied %d records and dead-lettered %d; the test needs it to have done both", reader.Load(), len(dlq.IDs()))
	}
}

// panicky panics on one event and passes the others.
type panicky string

func (p panicky) Apply(r *api.Record) (bool, error) {
	if r.Event.ID == string(p) {
		panic("index out of range in a plugin")
	}
	return true, nil
}

// A transform's panic fails the record it met, like an error: with
// tolerance all it is dead-lettered and the rest go on, in order; with
// tolerance none the task fails with the panic and nothing from that
// record on is written or committed.
func TestTransformPanicFailsItsRecord(t *testing.T) {
	t.Parallel()
	chain := func() []runtime.NamedTransform {
		return []runtime.NamedTransform{{Name: "keep", Transform: keepAll{new(int)}}, {Name: "fragile", Transform: panicky("e-150")}}
	}
	t.Run("tolerance all", func(t *testing.T) {
		t.Parallel()
		sink, dlq, com := &memSink{}, &memSink{}, &memCommitter{}
		task, err := run(t, runtime.Config{
			Source: &countSource{n: 300, batch: 100}, Sink: sink, DeadLetter: dlq, Committer: com,
			Tolerance: runtime.ToleranceAll, Transforms: chain(),
		})
		if err != nil || !task.Finished() {
			t.Fatalf("Run: %v, finished %v", err, task.Finished())
		}
		wantInOrder(t, sink.IDs(), 300, func(i int) bool { return i == 150 })
		if got := dlq.IDs(); len(got) != 1 || got[0] != "e-150" {
			t.Errorf("dead letters %v, want e-150", got)
		}
		if got := com.get("p"); got != "299" {
			t.Errorf("committed %q, want 299", got)
		}
	})
	t.Run("tolerance none", func(t *testing.T) {
		t.Parallel()
		sink, com := &memSink{}, &memCommitter{}
		_, err := run(t, runtime.Config{Source: &countSource{n: 300, batch: 100}, Sink: sink, Committer: com, Transforms: chain()})
		if !api.IsFatal(err) || !strings.Contains(err.Error(), "transform fragile failed for event \"e-150\"") || !strings.Contains(err.Error(), "transform panicked: index out of range in a plugin") {
			t.Fatalf("err = %v, want the fatal panic of fragile on e-150", err)
		}
		ids := sink.IDs()
		wantInOrder(t, ids, len(ids), nil)
		if len(ids) > 150 {
			t.Errorf("%d records written, want at most the 150 before e-150", len(ids))
		}
		if c, err := strconv.Atoi(com.get("p")); err == nil && c >= 150 {
			t.Errorf("committed %d, at or past the failed record", c)
		}
	})
}
