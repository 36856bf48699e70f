package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/state"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func run(t *testing.T, cfg runtime.Config) (*runtime.Task, error) {
	t.Helper()
	task, err := runtime.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return task, task.Run(ctx)
}

func TestDeliversEverythingAndCommitsTheEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sink api.Sink
	}{
		{"plain sink", &memSink{}},
		{"flushing sink", &flushSink{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &countSource{n: 5000, batch: 300}
			com := &memCommitter{}
			task, err := run(t, runtime.Config{Source: src, Sink: tc.sink, Committer: com, BatchSize: 128, MaxInFlightRecords: 512})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !task.Finished() {
				t.Error("Finished() = false after end of input")
			}
			var ids []string
			switch s := tc.sink.(type) {
			case *memSink:
				ids = s.IDs()
			case *flushSink:
				ids = s.IDs()
			}
			if len(ids) != 5000 || ids[0] != "e-0" || ids[4999] != "e-4999" {
				t.Fatalf("sink got %d records", len(ids))
			}
			if got := com.get("p"); got != "4999" {
				t.Errorf("committed %q, want 4999", got)
			}
			if src.acked["p"] != "4999" {
				t.Errorf("source acked %q, want 4999", src.acked["p"])
			}
			m := task.Metrics()
			if m.SourceRecordPollTotal != 5000 || m.SinkRecordAckTotal != 5000 || m.InFlightRecords != 0 {
				t.Errorf("metrics: %+v", m)
			}
		})
	}
}

func TestRetriesTransientSinkErrors(t *testing.T) {
	t.Parallel()
	sink := &memSink{failN: 3}
	com := &memCommitter{}
	task, err := run(t, runtime.Config{
		Source: &countSource{n: 100, batch: 100}, Sink: sink, Committer: com,
		Retry: runtime.Retry{Initial: time.Millisecond, Max: 5 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.IDs()) != 100 {
		t.Fatalf("got %d records", len(sink.IDs()))
	}
	if r := task.Metrics().RetryTotal; r != 3 {
		t.Errorf("RetryTotal = %d, want 3", r)
	}
}

// TestRetriesReportHealth: a task tells whoever watches it that an
// operation is failing and being retried, and when it recovers.
func TestRetriesReportHealth(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []runtime.Health
	_, err := run(t, runtime.Config{
		Source: &countSource{n: 100, batch: 100}, Sink: &memSink{failN: 3}, Committer: &memCommitter{},
		Retry: runtime.Retry{Initial: time.Millisecond, Max: 5 * time.Millisecond},
		OnHealth: func(h runtime.Health) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, h)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0].Op != "write" || seen[0].Attempts != 1 || seen[0].Err == nil || seen[0].Since.IsZero() || seen[1].Op != "write" || seen[1].Err != nil {
		t.Fatalf("health reports %+v, want a failing write then a recovery", seen)
	}
}

// TestRetryDisabledFailsAtOnce is Kafka Connect's errors.retry.timeout=0.
func TestRetryDisabledFailsAtOnce(t *testing.T) {
	t.Parallel()
	sink := &memSink{failN: 1}
	_, err := run(t, runtime.Config{
		Source: &countSource{n: 10, batch: 10}, Sink: sink, Committer: &memCommitter{},
		Retry: runtime.Retry{Disabled: true},
	})
	if !errors.Is(err, runtime.ErrRetriesExhausted) || !strings.Contains(err.Error(), "no retries") {
		t.Fatalf("err = %v, want ErrRetriesExhausted at the first failure", err)
	}
}

func TestRetryTimeoutFailsTheTask(t *testing.T) {
	t.Parallel()
	com := &memCommitter{}
	_, err := run(t, runtime.Config{
		Source: &countSource{n: 100, batch: 10}, Sink: &memSink{failN: 1 << 30}, Committer: com,
		Retry: runtime.Retry{Initial: time.Millisecond, Max: 5 * time.Millisecond, Timeout: 50 * time.Millisecond},
	})
	if !errors.Is(err, runtime.ErrRetriesExhausted) {
		t.Fatalf("err = %v, want ErrRetriesExhausted", err)
	}
	if got := com.get("p"); got != "" {
		t.Errorf("committed %q although nothing was written", got)
	}
}

func TestToleranceNoneFailsAtTheBadRecord(t *testing.T) {
	t.Parallel()
	sink := &memSink{}
	com := &memCommitter{}
	_, err := run(t, runtime.Config{
		Source: &countSource{n: 100, batch: 5}, Sink: sink, Committer: com,
		Transforms: []runtime.NamedTransform{{Name: "odd", Transform: dropOdd{}}},
	})
	if err == nil || !strings.Contains(err.Error(), `transform odd failed for event "e-13"`) {
		t.Fatalf("err = %v", err)
	}
	if !api.IsFatal(err) {
		t.Error("a bad record under tolerance none must be fatal, so the worker does not restart into it")
	}
	// Everything before e-13 is safe and committed; e-13 itself is not.
	if got := com.get("p"); got != "12" {
		t.Errorf("committed %q, want 12", got)
	}
}

func TestToleranceAllSendsToDeadLetter(t *testing.T) {
	t.Parallel()
	sink := &memSink{reject: map[string]bool{"e-20": true}}
	dlq := &collectSink{}
	com := &memCommitter{}
	task, err := run(t, runtime.Config{
		Source: &countSource{n: 100, batch: 7}, Sink: sink, Committer: com, DeadLetter: dlq,
		Tolerance:  runtime.ToleranceAll,
		Transforms: []runtime.NamedTransform{{Name: "odd", Transform: dropOdd{}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sink.IDs()); n != 49 { // 50 even numbers, e-20 rejected
		t.Errorf("sink got %d, want 49", n)
	}
	if len(dlq.recs) != 2 {
		t.Fatalf("dead letters: %d, want 2", len(dlq.recs))
	}
	stages := map[string]string{}
	for _, r := range dlq.recs {
		stages[r.Event.ID] = r.Event.Extensions["ferryerrorstage"].(string)
		if r.Event.Extensions["ferryerror"] == "" || r.Event.Extensions["ferryerrorposition"] == "" {
			t.Errorf("missing error context: %v", r.Event.Extensions)
		}
	}
	if stages["e-13"] != "transform odd" || stages["e-20"] != "sink" {
		t.Errorf("stages = %v", stages)
	}
	if got := com.get("p"); got != "99" {
		t.Errorf("committed %q, want 99", got)
	}
	m := task.Metrics()
	if m.RecordErrorTotal != 2 || m.DeadLetterTotal != 2 || m.RecordFilteredTotal != 49 {
		t.Errorf("metrics %+v", m)
	}
}

type collectSink struct{ recs []api.Record }

func (c *collectSink) Open(context.Context) error  { return nil }
func (c *collectSink) Close(context.Context) error { return nil }
func (c *collectSink) Write(_ context.Context, r []api.Record) error {
	c.recs = append(c.recs, r...)
	return nil
}

func TestBackpressureBoundsInFlight(t *testing.T) {
	t.Parallel()
	src := &countSource{n: 3000, batch: 50}
	sink := &memSink{slow: time.Millisecond}
	task, err := runtime.New(runtime.Config{Source: src, Sink: sink, Committer: &memCommitter{}, BatchSize: 50, MaxInFlightRecords: 200})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- task.Run(context.Background()) }()
	var peak int64
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			// Bounded by the budget plus one source batch.
			if peak > 250 {
				t.Errorf("peak in-flight %d exceeds 200 + one batch", peak)
			}
			return
		case <-time.After(time.Millisecond):
			peak = max(peak, task.Metrics().InFlightRecords)
		}
	}
}

// A soft stop drains the pipeline: everything the sink got is committed,
// in source order, with and without a chain stage.
func TestSoftStopCommitsWhatWasWritten(t *testing.T) {
	for _, withChain := range []bool{false, true} {
		t.Run(fmt.Sprintf("chain=%v", withChain), func(t *testing.T) {
			t.Parallel()
			src := &countSource{n: 1 << 40, batch: 10, delay: time.Millisecond}
			sink := &flushSink{}
			com := &memCommitter{}
			cfg := runtime.Config{Source: src, Sink: sink, Committer: com, CommitInterval: time.Hour}
			var applied int
			if withChain {
				cfg.Transforms = []runtime.NamedTransform{{Name: "keep", Transform: keepAll{&applied}}}
			}
			task, err := runtime.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- task.Run(ctx) }()
			time.Sleep(100 * time.Millisecond)
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("soft stop returned %v", err)
			}
			ids := sink.IDs()
			if len(ids) == 0 {
				t.Fatal("nothing written")
			}
			for i, id := range ids {
				if want := "e-" + strconv.Itoa(i); id != want {
					t.Fatalf("record %d is %s, want %s (order lost or records skipped)", i, id, want)
				}
			}
			if withChain && applied < len(ids) {
				t.Errorf("chain applied %d times for %d written records", applied, len(ids))
			}
			want := strings.TrimPrefix(ids[len(ids)-1], "e-")
			if got := com.get("p"); got != want {
				t.Errorf("committed %q, last flushed %q", got, want)
			}
			if !src.closed || !sink.closed {
				t.Error("plugins not closed")
			}
		})
	}
}

func TestHardStopAbandonsAStuckSink(t *testing.T) {
	sink := &memSink{block: make(chan struct{})}
	defer close(sink.block) // release the abandoned goroutine at the end
	task, err := runtime.New(runtime.Config{
		Source: &countSource{n: 10, batch: 10}, Sink: sink, Committer: &memCommitter{},
		StopTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- task.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, runtime.ErrStopTimeout) {
			t.Fatalf("err = %v, want ErrStopTimeout", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("hard stop took %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return: a stuck sink blocked the task")
	}
}

func TestFencedCommitStopsTheTask(t *testing.T) {
	t.Parallel()
	com := &memCommitter{err: fmt.Errorf("commit: %w", state.ErrFenced)}
	_, err := run(t, runtime.Config{
		Source: &countSource{n: 1 << 40, batch: 10, endless: true}, Sink: &memSink{}, Committer: com,
		CommitInterval: 10 * time.Millisecond,
	})
	if !errors.Is(err, state.ErrFenced) {
		t.Fatalf("err = %v, want ErrFenced", err)
	}
}

func TestSourceFatalErrorFailsTask(t *testing.T) {
	t.Parallel()
	_, err := run(t, runtime.Config{Source: failingSource{}, Sink: &memSink{}, Committer: &memCommitter{}})
	if err == nil || !strings.Contains(err.Error(), "corrupt input") {
		t.Fatalf("err = %v", err)
	}
}

type failingSource struct{}

func (failingSource) Open(context.Context) error  { return nil }
func (failingSource) Close(context.Context) error { return nil }
func (failingSource) Read(context.Context) ([]api.Record, error) {
	return nil, api.Fatal(errors.New("corrupt input"))
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	_, err := runtime.New(runtime.Config{Tolerance: "some"})
	for _, want := range []string{"Source is required", "Sink is required", "Committer is required", "Tolerance must be none or all"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}
