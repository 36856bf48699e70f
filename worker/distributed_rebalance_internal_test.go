package worker

import (
	"testing"
	"time"
)

// TestRebalanceBookkeeping: a generation is one rebalance from the pass
// that reads it to the pass after which nothing waits; its pause counts
// only when it stopped or started a task here; a newer generation
// finishes the one it supersedes; passes over the same generation and
// generation 0 (nothing published) change nothing.
func TestRebalanceBookkeeping(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var r rebalance

	r.begin(0, at(0))
	r.finish(at(1))
	if r.stats != (rebalanceStats{}) {
		t.Fatalf("before any generation: %+v", r.stats)
	}

	r.begin(1, at(10)) // the worker's first assignment: starts two tasks
	if !r.stats.pending || r.stats.generation != 1 {
		t.Fatalf("applying generation 1: %+v", r.stats)
	}
	r.moved = true
	r.finish(at(40))
	if want := (rebalanceStats{generation: 1, count: 1, lastPause: 30 * time.Millisecond, last: at(40)}); r.stats != want {
		t.Fatalf("after generation 1: %+v, want %+v", r.stats, want)
	}
	r.begin(1, at(50)) // a later pass over the same generation
	r.moved = true     // (a task restarted for its own reasons)
	r.finish(at(60))
	if r.stats.count != 1 || r.stats.lastPause != 30*time.Millisecond {
		t.Fatalf("a pass over the same generation changed the figures: %+v", r.stats)
	}

	r.begin(2, at(100)) // a task waits for its previous owner over several passes
	r.moved = true
	r.begin(2, at(150))
	if !r.stats.pending || r.stats.count != 1 {
		t.Fatalf("while waiting: %+v", r.stats)
	}
	r.begin(3, at(200)) // superseded before it finished: it counts, and 3 begins
	if want := (rebalanceStats{generation: 3, count: 2, pending: true, lastPause: 100 * time.Millisecond, last: at(200)}); r.stats != want {
		t.Fatalf("after generation 3 superseded 2: %+v, want %+v", r.stats, want)
	}
	r.finish(at(210)) // generation 3 moved nothing here
	if want := (rebalanceStats{generation: 3, count: 3, last: at(210)}); r.stats != want {
		t.Fatalf("after generation 3: %+v, want %+v", r.stats, want)
	}
}
