package runtime_test

import (
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
)

// listenSource is a countSource that is told its commits and reports lag.
type listenSource struct {
	countSource
	lmu       sync.Mutex
	committed []map[string]api.Position
	afterStop bool // a Committed call came after Close
}

func (s *listenSource) Committed(pos map[string]api.Position) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.mu.Lock()
	s.afterStop = s.afterStop || s.closed
	s.mu.Unlock()
	s.committed = append(s.committed, pos)
}

func (s *listenSource) Lag() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]int64{"p": int64(s.n - s.next)}
}

// TestCommitListenerHearsEveryCommit: an api.CommitListener source is told
// exactly the positions each offset commit stored, the last one (the end
// of input) before Close.
func TestCommitListenerHearsEveryCommit(t *testing.T) {
	t.Parallel()
	src := &listenSource{countSource: countSource{n: 3000, batch: 100, delay: time.Millisecond}}
	com := &recordingCommitter{}
	if _, err := run(t, runtime.Config{Source: src, Sink: &memSink{}, Committer: com, CommitInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	src.lmu.Lock()
	defer src.lmu.Unlock()
	if len(src.committed) < 2 {
		t.Fatalf("Committed called %d times, want one per commit (several)", len(src.committed))
	}
	com.mu.Lock()
	defer com.mu.Unlock()
	if len(src.committed) != len(com.commits) {
		t.Fatalf("Committed called %d times for %d commits", len(src.committed), len(com.commits))
	}
	for i := range com.commits {
		if !maps.EqualFunc(src.committed[i], com.commits[i], func(a api.Position, b string) bool { return string(a) == b }) {
			t.Errorf("commit %d: source told %v, store got %v", i, src.committed[i], com.commits[i])
		}
	}
	if last := src.committed[len(src.committed)-1]; string(last["p"]) != "2999" {
		t.Errorf("last Committed = %q, want 2999", last["p"])
	}
	if src.afterStop {
		t.Error("Committed called after Close")
	}
}

// TestLagInMetrics: a LagReporter source's lag shows in the task's
// snapshot; a source without it leaves Lag nil.
func TestLagInMetrics(t *testing.T) {
	t.Parallel()
	src := &listenSource{countSource: countSource{n: 500, batch: 100}}
	task, err := run(t, runtime.Config{Source: src, Sink: &memSink{}, Committer: &memCommitter{}})
	if err != nil {
		t.Fatal(err)
	}
	if lag := task.Metrics().Lag; lag["p"] != 0 || len(lag) != 1 {
		t.Errorf("Lag = %v, want p:0", lag)
	}
	plain, err := runtime.New(runtime.Config{Source: &countSource{n: 1}, Sink: &memSink{}, Committer: &memCommitter{}})
	if err != nil {
		t.Fatal(err)
	}
	if lag := plain.Metrics().Lag; lag != nil {
		t.Errorf("Lag of a source without LagReporter = %v", lag)
	}
	pending, err := runtime.New(runtime.Config{Source: &listenSource{countSource: countSource{n: 7}}, Sink: &memSink{}, Committer: &memCommitter{}})
	if err != nil {
		t.Fatal(err)
	}
	if lag := pending.Metrics().Lag; lag["p"] != 7 {
		t.Errorf("Lag before Run = %v, want p:7", lag)
	}
}
