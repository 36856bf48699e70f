package kit_test

import (
	"maps"
	"sync"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

func TestProgress(t *testing.T) {
	t.Parallel()
	var p kit.Progress
	var _ api.CommitListener = &p
	var _ api.LagReporter = &p
	if p.TakeCommitted() != nil || p.Lag() != nil {
		t.Fatal("zero value is not empty")
	}
	p.Committed(map[string]api.Position{"a": api.Position("1"), "b": api.Position("5")})
	p.Committed(map[string]api.Position{"a": api.Position("2")})
	got := p.TakeCommitted()
	if len(got) != 2 || string(got["a"]) != "2" || string(got["b"]) != "5" {
		t.Errorf("taken %v", got)
	}
	if p.TakeCommitted() != nil {
		t.Error("taken twice")
	}
	// A failed publish is offered again, but never over a newer commit.
	p.Committed(map[string]api.Position{"a": api.Position("3")})
	p.Retry(got)
	if again := p.TakeCommitted(); string(again["a"]) != "3" || string(again["b"]) != "5" {
		t.Errorf("after a retry: %v", again)
	}

	p.SetLag("a", 7)
	p.SetLag("b", -2)
	lag := p.Lag()
	if !maps.Equal(lag, map[string]int64{"a": 7, "b": 0}) {
		t.Errorf("lag %v", lag)
	}
	lag["a"] = 100 // the caller's copy
	p.DropLag("b")
	if l := p.Lag(); !maps.Equal(l, map[string]int64{"a": 7}) {
		t.Errorf("lag after drop %v", l)
	}
}

// TestProgressConcurrent runs the engine's calls beside the reader's, for
// the race detector.
func TestProgressConcurrent(t *testing.T) {
	t.Parallel()
	var p kit.Progress
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				switch i {
				case 0:
					p.Committed(map[string]api.Position{"a": api.Position("1")})
				case 1:
					p.Retry(p.TakeCommitted())
				case 2:
					p.SetLag("a", int64(j))
				default:
					_ = p.Lag()
				}
			}
		}()
	}
	wg.Wait()
}
