package runtime_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
)

// writeLog records the size and time of every Sink.Write.
type writeLog struct {
	mu    sync.Mutex
	sizes []int
	at    []time.Time
}

func (s *writeLog) Open(context.Context) error { return nil }
func (s *writeLog) Write(_ context.Context, recs []api.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sizes, s.at = append(s.sizes, len(recs)), append(s.at, time.Now())
	return nil
}
func (s *writeLog) Close(context.Context) error { return nil }
func (s *writeLog) writes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes...)
}

// TestBatchWindowCountTrigger: records from small source batches are
// written together once batch.max.records of them wait.
func TestBatchWindowCountTrigger(t *testing.T) {
	t.Parallel()
	sink := &writeLog{}
	_, err := run(t, runtime.Config{Source: &countSource{n: 100, batch: 7}, Sink: sink, Committer: &memCommitter{},
		BatchMaxRecords: 25, BatchMaxWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// 7-record batches: the window reaches 25 at 28 records; the input's
	// end pushes the rest (100 − 3·28 = 16).
	want := []int{28, 28, 28, 16}
	if got := sink.writes(); !slices.Equal(got, want) {
		t.Errorf("writes %v, want %v", got, want)
	}
}

// TestBatchWindowTimeTrigger: a slow source's records wait at most
// batch.max.wait.ms, then go out together.
func TestBatchWindowTimeTrigger(t *testing.T) {
	t.Parallel()
	sink := &writeLog{}
	const wait = 150 * time.Millisecond
	src := &countSource{n: 1000, batch: 1, delay: 10 * time.Millisecond, endless: true}
	task, err := runtime.New(runtime.Config{Source: src, Sink: sink, Committer: &memCommitter{},
		BatchMaxRecords: 1000, BatchMaxWait: wait})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	done := make(chan error)
	go func() { done <- task.Run(ctx) }()
	for len(sink.writes()) < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	prev := start
	for i := range 3 {
		gap := sink.at[i].Sub(prev)
		// Each write holds the records of one wait (a record every 10 ms),
		// and comes about one wait after the previous.
		if gap < wait-20*time.Millisecond || gap > wait+150*time.Millisecond {
			t.Errorf("write %d came %v after the previous, want about %v", i, gap, wait)
		}
		if sink.sizes[i] < 3 || sink.sizes[i] > 16 {
			t.Errorf("write %d had %d records, want the ~%d a wait collects", i, sink.sizes[i], wait/(10*time.Millisecond))
		}
		prev = sink.at[i]
	}
}

// TestBatchWindowOffWritesAtOnce: without a window (either key 0), every
// source batch is written as it comes.
func TestBatchWindowOffWritesAtOnce(t *testing.T) {
	t.Parallel()
	for _, cfg := range []struct {
		records int
		wait    time.Duration
	}{{0, 0}, {25, 0}, {0, time.Hour}} {
		sink := &writeLog{}
		if _, err := run(t, runtime.Config{Source: &countSource{n: 21, batch: 7}, Sink: sink, Committer: &memCommitter{},
			BatchMaxRecords: cfg.records, BatchMaxWait: cfg.wait}); err != nil {
			t.Fatal(err)
		}
		if got := sink.writes(); !slices.Equal(got, []int{7, 7, 7}) {
			t.Errorf("records %d wait %v: writes %v, want 7,7,7", cfg.records, cfg.wait, got)
		}
	}
}

// TestBatchWindowNeverOutwaitsTheBudget: a window larger than what the
// budget lets in is pushed when the budget is spent, not after the wait.
func TestBatchWindowNeverOutwaitsTheBudget(t *testing.T) {
	t.Parallel()
	sink := &writeLog{}
	start := time.Now()
	_, err := run(t, runtime.Config{Source: &countSource{n: 400, batch: 10, payload: make([]byte, 1000)}, Sink: sink, Committer: &memCommitter{},
		BatchSize: 10, MaxInFlightRecords: 100, MaxInFlightBytes: 20_000, BatchMaxRecords: 100, BatchMaxWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v: the window waited although the budget was spent", d)
	}
}
