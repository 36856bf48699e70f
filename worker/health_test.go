package worker_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
)

// TestRetryingTaskSaysSo: a task whose source cannot reach its system is
// not silently RUNNING. Its status says it is retrying, since when and
// why, clears when the system comes back, and with a bounded
// errors.retry.timeout the task fails when the time is up.
func TestRetryingTaskSaysSo(t *testing.T) {
	t.Parallel()
	fakes := newHerdFakes()
	fakes.setOpenFailures(1<<30, false)
	w := startHerd(t, fakes, nil, func(c *worker.Config) { c.Restart.Disabled = true })
	ctx := context.Background()
	if _, err := w.CreateConnector(ctx, "down", with(baseConfig("down"), "errors.retry.timeout", "-1", "errors.retry.delay.max.ms", "50"), state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	var ts worker.TaskStateInfo
	eventually(t, "task 0 retrying", func() bool {
		ts, _ = w.TaskStatus(ctx, "down", 0)
		return ts.Health == worker.HealthRetrying
	})
	if ts.State != "RUNNING" || ts.Since == nil || !strings.Contains(ts.LastError, "upstream refused the connection") ||
		!strings.HasPrefix(ts.Trace, "open source: upstream refused the connection (") || ts.LastError != ts.Trace {
		t.Fatalf("retrying status: %+v", ts)
	}
	fakes.setOpenFailures(0, false)
	eventually(t, "task 0 healthy again", func() bool {
		ts, _ = w.TaskStatus(ctx, "down", 0)
		return ts.State == "RUNNING" && ts.Health == "" && ts.Trace == "" && ts.Since == nil
	})

	// A bounded retry time: retrying first, FAILED when it is up.
	fakes.setOpenFailures(1<<30, false)
	if _, err := w.CreateConnector(ctx, "bounded", with(baseConfig("bounded"), "errors.retry.timeout", "300ms", "errors.retry.delay.max.ms", "20"), state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bounded FAILED after its retry time", func() bool {
		ts, _ = w.TaskStatus(ctx, "bounded", 0)
		return ts.State == "FAILED" && strings.Contains(ts.Trace, "retries exhausted") && ts.Health == ""
	})
	// errors.retry.timeout=0: Kafka Connect's "no retries".
	if _, err := w.CreateConnector(ctx, "noretry", with(baseConfig("noretry"), "errors.retry.timeout", "0"), state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	eventually(t, "noretry FAILED at once", func() bool {
		ts, _ = w.TaskStatus(ctx, "noretry", 0)
		return ts.State == "FAILED" && strings.Contains(ts.Trace, "no retries")
	})
}
