package runtime_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
)

// keepAll passes every record and counts them.
type keepAll struct{ n *int }

func (k keepAll) Apply(r *api.Record) (bool, error) { *k.n++; return true, nil }

// With a chain the transforms run in a stage of their own; a soft stop
// drains it: everything the sink got is committed, in source order.
func TestChainStageSoftStopDrainsInOrder(t *testing.T) {
	t.Parallel()
	src := &countSource{n: 1 << 40, batch: 10, delay: time.Millisecond}
	sink := &flushSink{}
	com := &memCommitter{}
	var applied int
	task, err := runtime.New(runtime.Config{Source: src, Sink: sink, Committer: com, CommitInterval: time.Hour,
		Transforms: []runtime.NamedTransform{{Name: "keep", Transform: keepAll{&applied}}}})
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
	if applied < len(ids) {
		t.Errorf("chain applied %d times for %d written records", applied, len(ids))
	}
	if got, want := com.get("p"), strings.TrimPrefix(ids[len(ids)-1], "e-"); got != want {
		t.Errorf("committed %q, last flushed %q", got, want)
	}
}

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
