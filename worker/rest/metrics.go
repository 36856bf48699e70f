package rest

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/worker"
)

// metricLabels are the labels of every per-task series.
var metricLabels = []string{"connector", "task"}

// taskMetric maps one Snapshot field to a Prometheus series. Names mirror
// Kafka Connect's source-task-metrics, sink-task-metrics and
// task-error-metrics MBeans, prefixed ferry_; docs/rest.md lists them.
type taskMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(worker.TaskMetrics) float64
}

func newTaskMetric(name, help string, kind prometheus.ValueType, value func(worker.TaskMetrics) float64) taskMetric {
	return taskMetric{desc: prometheus.NewDesc(name, help, metricLabels, nil), kind: kind, value: value}
}

func seconds(nanos int64) float64 { return float64(nanos) / float64(time.Second) }

// unixSeconds is 0 for a zero time, so "never" is distinguishable in PromQL.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / float64(time.Second)
}

var taskMetricSet = []taskMetric{
	newTaskMetric("ferry_source_task_source_record_poll_total",
		"Records returned by the source (Kafka Connect source-record-poll-total).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 { return float64(m.Snapshot.SourceRecordPollTotal) }),
	newTaskMetric("ferry_source_task_source_record_write_total",
		"Records that left the transform chain for the sink (Kafka Connect source-record-write-total).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 { return float64(m.Snapshot.SourceRecordWriteTotal) }),
	newTaskMetric("ferry_source_task_poll_batch_time_seconds_total",
		"Time spent in Source.Read (Kafka Connect poll-batch-avg-time-ms is this divided by polls).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 { return seconds(m.Snapshot.PollBatchNanosTotal) }),
	newTaskMetric("ferry_task_record_filtered_total",
		"Records dropped by a transform (Ferry).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 { return float64(m.Snapshot.RecordFilteredTotal) }),
	newTaskMetric("ferry_sink_task_sink_record_send_total",
		"Records passed to the sink (Kafka Connect sink-record-send-total).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 { return float64(m.Snapshot.SinkRecordSendTotal) }),
	newTaskMetric("ferry_sink_task_sink_record_ack_total",
		"Records the sink acknowledged as written and flushed (Ferry).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 { return float64(m.Snapshot.SinkRecordAckTotal) }),
	newTaskMetric("ferry_sink_task_sink_record_active_count",
		"Records read but not yet acknowledged (Kafka Connect sink-record-active-count).",
		prometheus.GaugeValue, func(m worker.TaskMetrics) float64 { return float64(m.Snapshot.InFlightRecords) }),
	newTaskMetric("ferry_sink_task_sink_record_active_bytes",
		"Bytes of records read but not yet acknowledged (Ferry).",
		prometheus.GaugeValue, func(m worker.TaskMetrics) float64 { return float64(m.Snapshot.InFlightBytes) }),
	newTaskMetric("ferry_sink_task_put_batch_total",
		"Sink.Write calls (Ferry).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 { return float64(m.Snapshot.BatchTotal) }),
	newTaskMetric("ferry_sink_task_put_batch_time_seconds_total",
		"Time spent in Sink.Write (Kafka Connect put-batch-avg-time-ms is this divided by batches).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 { return seconds(m.Snapshot.PutBatchNanosTotal) }),
	newTaskMetric("ferry_task_error_record_errors_total",
		"Records that failed in a transform or the sink (Kafka Connect total-record-errors).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 { return float64(m.Snapshot.RecordErrorTotal) }),
	newTaskMetric("ferry_task_error_records_skipped_total",
		"Failed records skipped because errors.tolerance=all (Kafka Connect total-records-skipped).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 {
			if m.Tolerance != runtime.ToleranceAll {
				return 0
			}
			return float64(m.Snapshot.RecordErrorTotal)
		}),
	newTaskMetric("ferry_task_error_retries_total",
		"Retried plugin calls (Kafka Connect total-retries).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 { return float64(m.Snapshot.RetryTotal) }),
	newTaskMetric("ferry_task_error_deadletterqueue_produce_requests_total",
		"Records written to the dead-letter sink (Kafka Connect deadletterqueue-produce-requests).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 { return float64(m.Snapshot.DeadLetterTotal) }),
	newTaskMetric("ferry_task_offset_commit_completion_total",
		"Offset commits that completed (Kafka Connect offset-commit-completion-total).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 { return float64(m.Snapshot.OffsetCommitTotal) }),
	newTaskMetric("ferry_task_offset_commit_failure_total",
		"Offset commits that failed (Kafka Connect offset-commit-failure-percentage is failures over attempts).",
		prometheus.CounterValue, func(m worker.TaskMetrics) float64 { return float64(m.Snapshot.OffsetCommitFailures) }),
	newTaskMetric("ferry_task_last_offset_commit_timestamp_seconds",
		"Unix time of the last offset commit, 0 before the first (Ferry).",
		prometheus.GaugeValue, func(m worker.TaskMetrics) float64 { return unixSeconds(m.Snapshot.LastCommit) }),
	newTaskMetric("ferry_task_last_record_timestamp_seconds",
		"Unix time the source last returned a record, 0 before the first (Ferry).",
		prometheus.GaugeValue, func(m worker.TaskMetrics) float64 { return unixSeconds(m.Snapshot.LastRecord) }),
}

// lagDesc is the per-partition lag of a source that reports it
// (api.LagReporter): one series per partition, so it sits beside
// taskMetricSet rather than in it.
var lagDesc = prometheus.NewDesc("ferry_source_lag_records",
	"Records the source's system holds after the task's read position, per partition (Kafka: high watermark minus next offset).",
	[]string{"connector", "task", "partition"}, nil)

// TaskCollector is a prometheus.Collector over the tasks of a
// worker.TaskMetricsSource. It keeps no state: every scrape reads fresh snapshots,
// so tasks that stopped disappear from the output.
type TaskCollector struct {
	src worker.TaskMetricsSource
}

// NewTaskCollector returns a collector reading src at each scrape.
func NewTaskCollector(src worker.TaskMetricsSource) *TaskCollector {
	return &TaskCollector{src: src}
}

// Describe implements prometheus.Collector.
func (c *TaskCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range taskMetricSet {
		ch <- m.desc
	}
	ch <- lagDesc
}

// Collect implements prometheus.Collector.
func (c *TaskCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct {
		connector string
		task      int
	}
	// A task listed twice (say, during a restart) would make the registry
	// reject the whole scrape, so only the first entry counts.
	seen := map[key]bool{}
	for _, tm := range c.src.TaskMetrics() {
		k := key{tm.Connector, tm.Task}
		if seen[k] {
			continue
		}
		seen[k] = true
		task := strconv.Itoa(tm.Task)
		for _, m := range taskMetricSet {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(tm), tm.Connector, task)
		}
		for p, lag := range tm.Snapshot.Lag {
			ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(lag), tm.Connector, task, p)
		}
	}
}

// NewMetricsRegistry returns a registry with the task collector over src (when
// not nil) and the Go runtime and process collectors, ready to serve as
// Config.Gatherer.
func NewMetricsRegistry(src worker.TaskMetricsSource) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if src != nil {
		reg.MustRegister(NewTaskCollector(src))
	}
	return reg
}
