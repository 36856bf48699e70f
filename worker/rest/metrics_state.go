package rest

import (
	"context"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
)

// metricStates are the states a state metric has a series for: one per
// state, 1 for the current one, so that an alert can say
// ferry_task_state{state="FAILED"} == 1 and the series stays while the
// task stays FAILED (the runtime's per-task series end with the task).
var metricStates = []state.State{
	state.StateRunning, state.StatePaused, state.StateStopped, state.StateRestarting,
	state.StateFailed, state.StateFinished, state.StateUnassigned,
}

var (
	connectorStateDesc = prometheus.NewDesc("ferry_connector_state",
		"1 for the connector's current state, 0 for the others (Kafka Connect connector-metrics status); on the worker that recorded it.",
		[]string{"connector", "state"}, nil)
	taskStateDesc = prometheus.NewDesc("ferry_task_state",
		"1 for the task's current state, 0 for the others (Kafka Connect connector-task-metrics status); on the worker that runs or last ran it.",
		[]string{"connector", "task", "state"}, nil)
	taskRetryingDesc = prometheus.NewDesc("ferry_task_retrying",
		"1 while a RUNNING task retries a failing operation (its status says health retrying), else 0 (Ferry).",
		[]string{"connector", "task"}, nil)
	taskRetryingSinceDesc = prometheus.NewDesc("ferry_task_retrying_since_timestamp_seconds",
		"Unix time the retried operation first failed, 0 when the task is not retrying (Ferry).",
		[]string{"connector", "task"}, nil)
	workerConnectorsDesc = prometheus.NewDesc("ferry_worker_connectors",
		"Connectors whose status this worker recorded, by state (Kafka Connect connector-count and friends).",
		[]string{"state"}, nil)
	workerTasksDesc = prometheus.NewDesc("ferry_worker_tasks",
		"Tasks this worker runs or last ran, by state (Kafka Connect task-count and friends); retrying tasks are RUNNING here.",
		[]string{"state"}, nil)
	buildInfoDesc = prometheus.NewDesc("ferry_build_info",
		"Always 1; the labels say which build this worker runs.",
		[]string{"version", "commit", "go"}, nil)
)

// stateScrapeTimeout bounds the status reads of one scrape.
const stateScrapeTimeout = 5 * time.Second

// StateCollector exports connector and task states from a worker.StatusSource,
// and the build's identity. Each worker exports the statuses it recorded
// (the task's WorkerID is its own), so a cluster scraped whole counts
// every task once.
type StateCollector struct {
	src             worker.StatusSource
	version, commit string
}

// NewStateCollector returns a collector reading src at each scrape.
func NewStateCollector(src worker.StatusSource, version, commit string) *StateCollector {
	return &StateCollector{src: src, version: version, commit: commit}
}

// Describe implements prometheus.Collector.
func (c *StateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{connectorStateDesc, taskStateDesc, taskRetryingDesc, taskRetryingSinceDesc,
		workerConnectorsDesc, workerTasksDesc, buildInfoDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A status that cannot be read
// is left out of this scrape; the build info is always there.
func (c *StateCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(buildInfoDesc, prometheus.GaugeValue, 1, c.version, c.commit, goVersion())
	ctx, cancel := context.WithTimeout(context.Background(), stateScrapeTimeout)
	defer cancel()
	self := c.src.WorkerID()
	names, err := c.src.Connectors(ctx)
	if err != nil {
		return
	}
	conns, tasks := map[state.State]int{}, map[state.State]int{}
	for _, name := range names {
		st, err := c.src.ConnectorStatus(ctx, name)
		if err != nil {
			continue
		}
		if st.Connector.WorkerID == self {
			conns[state.State(st.Connector.State)]++
			for _, s := range metricStates {
				ch <- prometheus.MustNewConstMetric(connectorStateDesc, prometheus.GaugeValue, is(string(s) == st.Connector.State), name, string(s))
			}
		}
		for _, t := range st.Tasks {
			if t.WorkerID != self {
				continue
			}
			tasks[state.State(t.State)]++
			id := strconv.Itoa(t.ID)
			for _, s := range metricStates {
				ch <- prometheus.MustNewConstMetric(taskStateDesc, prometheus.GaugeValue, is(string(s) == t.State), name, id, string(s))
			}
			var since float64
			if t.Since != nil {
				since = unixSeconds(*t.Since)
			}
			ch <- prometheus.MustNewConstMetric(taskRetryingDesc, prometheus.GaugeValue, is(t.Health == worker.HealthRetrying), name, id)
			ch <- prometheus.MustNewConstMetric(taskRetryingSinceDesc, prometheus.GaugeValue, since, name, id)
		}
	}
	for _, s := range metricStates {
		ch <- prometheus.MustNewConstMetric(workerConnectorsDesc, prometheus.GaugeValue, float64(conns[s]), string(s))
		ch <- prometheus.MustNewConstMetric(workerTasksDesc, prometheus.GaugeValue, float64(tasks[s]), string(s))
	}
}

func is(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return ""
}
