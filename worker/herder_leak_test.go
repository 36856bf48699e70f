package worker_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/ferryhq/ferry/state"
)

// TestStopLeavesNoGoroutines is deliberately not parallel: goleak sees
// every goroutine of the process, and the parallel tests start only after
// the sequential ones are done.
func TestStopLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	fakes := newHerdFakes()
	w := startHerd(t, fakes, nil)
	ctx := context.Background()
	if _, err := w.CreateConnector(ctx, "a", with(baseConfig("a"), "tasks.max", "3"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.CreateConnector(ctx, "p", baseConfig("p"), state.TargetPaused); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "a", "RUNNING", "RUNNING", "RUNNING", "RUNNING")
	if err := w.RestartTask(ctx, "a", 2); err != nil {
		t.Fatal(err)
	}
	// One connector waits between automatic restarts when the worker stops.
	fakes.setOpenFailures(1000, false)
	if _, err := w.CreateConnector(ctx, "f", baseConfig("f"), ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a restart wait", func() bool { return w.store.sawState("f", 0, state.StateRestarting) })
	w.stop()
}
