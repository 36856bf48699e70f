package worker

import (
	"context"

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
