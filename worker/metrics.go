package worker

import (
	"context"
	"time"

	"github.com/ferryhq/ferry/runtime"
)

// TaskMetrics is one running task's counters, as the metrics collector
// reads them.
type TaskMetrics struct {
	Connector string
	Task      int
	// Tolerance is the task's errors.tolerance. Under "all" every failed
	// record is skipped (dropped or dead-lettered), so record errors count
	// as skipped records; under "none" (or "") a failed record fails the
	// task instead.
	Tolerance runtime.Tolerance
	Snapshot  runtime.Snapshot
}

// TaskMetricsSource lists the tasks a worker runs now with their counters.
// TaskMetrics is called once per scrape, from the scraping goroutine, and
// may run concurrently with anything else the worker does; it must not
// block on a task (runtime.Task's counters are atomics).
type TaskMetricsSource interface {
	TaskMetrics() []TaskMetrics
}

// StatusSource is what the state metrics read at each scrape: every
// connector's status, as the REST API answers it. A Controller is one.
type StatusSource interface {
	WorkerID() string
	Connectors(ctx context.Context) ([]string, error)
	ConnectorStatus(ctx context.Context, name string) (ConnectorStateInfo, error)
}

// ConnectorMetrics is one connector's figures on this worker.
type ConnectorMetrics struct {
	Connector string
	// Latency is the end-to-end latency of the records the connector's
	// tasks on this worker delivered: from each record's event time (its
	// CloudEvents time, else when it was read) to the sink's
	// acknowledgement. It counts from the connector's first task start on
	// this worker and survives task restarts; it starts again after the
	// connector was deleted or (in a cluster) all its tasks left.
	Latency runtime.LatencySnapshot
}

// ConnectorMetricsSource lists the connectors with figures on this worker,
// sorted by name. Like TaskMetrics it is called once per scrape and never
// blocks on a task. Both herders implement it.
type ConnectorMetricsSource interface {
	ConnectorMetrics() []ConnectorMetrics
}

// ClusterMetrics is a cluster worker's view of the cluster and of the
// rebalances it took part in.
type ClusterMetrics struct {
	// Leader is true on the worker that leads.
	Leader bool
	// Generation is the assignment generation this worker is applying,
	// or applied last (0 before the first).
	Generation int64
	// Rebalances counts the assignment generations this worker finished
	// applying: every task assigned to it started (or held PAUSED), every
	// task taken from it stopped. A generation superseded before that
	// counts too.
	Rebalances int64
	// Rebalancing is true while a new generation is being applied here
	// (tasks stopping, or waiting for their previous owner).
	Rebalancing bool
	// LastRebalancePause is how long the last finished rebalance kept
	// tasks on this worker from running: from when this worker saw the
	// generation to when it had started its last task for it, 0 when the
	// generation stopped and started nothing here.
	LastRebalancePause time.Duration
	// LastRebalance is when the last rebalance finished (zero: never).
	LastRebalance time.Time
	// Members counts the members this worker knows, by membership state
	// (alive, suspect, dead, left), itself included.
	Members map[string]int
	// HealthScore is memberlist's awareness score of this worker: 0 is
	// healthy, higher means its probes fail or it must refute suspicions
	// (see cluster.Membership.HealthScore); -1 before gossip started.
	HealthScore int
}

// ClusterMetricsSource is implemented by the cluster herder only.
type ClusterMetricsSource interface {
	ClusterMetrics() ClusterMetrics
}
