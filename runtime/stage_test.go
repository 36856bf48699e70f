package runtime_test

import (
	"errors"
	"strings"
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
