package worker_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
)

// TestStateMetrics: a failed task keeps its series (so an alert can fire),
// a retrying task says so, and the build is identified.
func TestStateMetrics(t *testing.T) {
	t.Parallel()
	fakes := newHerdFakes()
	w := startHerd(t, fakes, nil, func(c *worker.Config) { c.Restart.Disabled = true })
	ctx := context.Background()
	fakes.setOpenFailures(1, true)
	if _, err := w.CreateConnector(ctx, "broken", baseConfig("broken"), state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "broken", "RUNNING", "FAILED")
	fakes.setOpenFailures(1<<30, false)
	if _, err := w.CreateConnector(ctx, "down", with(baseConfig("down"), "errors.retry.timeout", "-1", "errors.retry.delay.max.ms", "50"), state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	eventually(t, "down retrying", func() bool {
		ts, _ := w.TaskStatus(ctx, "down", 0)
		return ts.Health == worker.HealthRetrying
	})

	reg := prometheus.NewRegistry()
	reg.MustRegister(rest.NewStateCollector(w, "1.2.3", "abc123"))
	want := `
# HELP ferry_build_info Always 1; the labels say which build this worker runs.
# TYPE ferry_build_info gauge
ferry_build_info{commit="abc123",go="GOVERSION",version="1.2.3"} 1
# HELP ferry_task_retrying 1 while a RUNNING task retries a failing operation (its status says health retrying), else 0 (Ferry).
# TYPE ferry_task_retrying gauge
ferry_task_retrying{connector="broken",task="0"} 0
ferry_task_retrying{connector="down",task="0"} 1
`
	want = strings.Replace(want, "GOVERSION", goVersionOf(t, reg), 1)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ferry_build_info", "ferry_task_retrying"); err != nil {
		t.Error(err)
	}
	text := gatherText(t, reg)
	for _, line := range []string{
		`ferry_task_state{connector="broken",state="FAILED",task="0"} 1`,
		`ferry_task_state{connector="broken",state="RUNNING",task="0"} 0`,
		`ferry_task_state{connector="down",state="RUNNING",task="0"} 1`,
		`ferry_connector_state{connector="broken",state="RUNNING"} 1`,
		`ferry_worker_tasks{state="FAILED"} 1`,
		`ferry_worker_tasks{state="RUNNING"} 1`,
		`ferry_worker_connectors{state="RUNNING"} 2`,
	} {
		if !strings.Contains(text, line) {
			t.Errorf("missing %s in\n%s", line, text)
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func gatherText(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			b.WriteString(mf.GetName() + "{")
			for i, l := range m.GetLabel() {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(l.GetName() + `="` + l.GetValue() + `"`)
			}
			b.WriteString("} " + strconv.FormatFloat(m.GetGauge().GetValue(), 'f', -1, 64) + "\n")
		}
	}
	return b.String()
}

func goVersionOf(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, _ := g.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "ferry_build_info" {
			for _, l := range mf.GetMetric()[0].GetLabel() {
				if l.GetName() == "go" {
					return l.GetValue()
				}
			}
		}
	}
	t.Fatal("no ferry_build_info")
	return ""
}
