package rest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
)

type metricsFunc func() []worker.TaskMetrics

func (f metricsFunc) TaskMetrics() []worker.TaskMetrics { return f() }

func sampleMetrics() []worker.TaskMetrics {
	return []worker.TaskMetrics{
		{Connector: "orders", Task: 0, Tolerance: runtime.ToleranceAll, Snapshot: runtime.Snapshot{
			SourceRecordPollTotal:  42,
			SourceRecordWriteTotal: 40,
			RecordFilteredTotal:    2,
			SinkRecordSendTotal:    39,
			SinkRecordAckTotal:     35,
			RecordErrorTotal:       1,
			DeadLetterTotal:        1,
			RetryTotal:             3,
			BatchTotal:             4,
			OffsetCommitTotal:      5,
			OffsetCommitFailures:   1,
			InFlightRecords:        4,
			InFlightBytes:          512,
			LastCommit:             time.Unix(1700000000, 500_000_000),
			PutBatchNanosTotal:     1_500_000_000,
			PollBatchNanosTotal:    250_000_000,
			Lag:                    map[string]int64{"orders-0": 12, "orders-1": 0},
		}},
		{Connector: "audit", Task: 1, Snapshot: runtime.Snapshot{RecordErrorTotal: 7}},
		// A duplicate (say, a task listed twice mid-restart) must not break
		// the scrape; the first entry wins.
		{Connector: "audit", Task: 1, Snapshot: runtime.Snapshot{RecordErrorTotal: 99}},
	}
}

func TestTaskCollector(t *testing.T) {
	t.Parallel()
	c := rest.NewTaskCollector(metricsFunc(sampleMetrics))
	want := `
# HELP ferry_source_task_source_record_poll_total Records returned by the source (Kafka Connect source-record-poll-total).
# TYPE ferry_source_task_source_record_poll_total counter
ferry_source_task_source_record_poll_total{connector="audit",task="1"} 0
ferry_source_task_source_record_poll_total{connector="orders",task="0"} 42
# HELP ferry_sink_task_sink_record_active_count Records read but not yet acknowledged (Kafka Connect sink-record-active-count).
# TYPE ferry_sink_task_sink_record_active_count gauge
ferry_sink_task_sink_record_active_count{connector="audit",task="1"} 0
ferry_sink_task_sink_record_active_count{connector="orders",task="0"} 4
# HELP ferry_sink_task_put_batch_time_seconds_total Time spent in Sink.Write (Kafka Connect put-batch-avg-time-ms is this divided by batches).
# TYPE ferry_sink_task_put_batch_time_seconds_total counter
ferry_sink_task_put_batch_time_seconds_total{connector="audit",task="1"} 0
ferry_sink_task_put_batch_time_seconds_total{connector="orders",task="0"} 1.5
# HELP ferry_task_error_record_errors_total Records that failed in a transform or the sink (Kafka Connect total-record-errors).
# TYPE ferry_task_error_record_errors_total counter
ferry_task_error_record_errors_total{connector="audit",task="1"} 7
ferry_task_error_record_errors_total{connector="orders",task="0"} 1
# HELP ferry_task_error_records_skipped_total Failed records skipped because errors.tolerance=all (Kafka Connect total-records-skipped).
# TYPE ferry_task_error_records_skipped_total counter
ferry_task_error_records_skipped_total{connector="audit",task="1"} 0
ferry_task_error_records_skipped_total{connector="orders",task="0"} 1
# HELP ferry_task_last_offset_commit_timestamp_seconds Unix time of the last offset commit, 0 before the first (Ferry).
# TYPE ferry_task_last_offset_commit_timestamp_seconds gauge
ferry_task_last_offset_commit_timestamp_seconds{connector="audit",task="1"} 0
ferry_task_last_offset_commit_timestamp_seconds{connector="orders",task="0"} 1.7000000005e+09
# HELP ferry_source_lag_records Records the source's system holds after the task's read position, per partition (Kafka: high watermark minus next offset).
# TYPE ferry_source_lag_records gauge
ferry_source_lag_records{connector="orders",partition="orders-0",task="0"} 12
ferry_source_lag_records{connector="orders",partition="orders-1",task="0"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"ferry_source_task_source_record_poll_total",
		"ferry_sink_task_sink_record_active_count",
		"ferry_sink_task_put_batch_time_seconds_total",
		"ferry_task_error_record_errors_total",
		"ferry_task_error_records_skipped_total",
		"ferry_task_last_offset_commit_timestamp_seconds",
		"ferry_source_lag_records",
	); err != nil {
		t.Fatal(err)
	}
	// 18 series per task, 2 distinct tasks, and 2 lag series.
	if n := testutil.CollectAndCount(c); n != 38 {
		t.Fatalf("collected %d series, want 38", n)
	}
}

// TestTaskCollectorLint runs Prometheus' naming lint. The names that keep
// Kafka Connect's wording (total-record-errors, sink-record-active-count…)
// rather than Prometheus' suffix rules are the exceptions docs/rest.md
// lists; any other problem fails.
func TestTaskCollectorLint(t *testing.T) {
	t.Parallel()
	allowed := map[string]bool{
		"ferry_sink_task_sink_record_active_count": true,
	}
	problems, err := testutil.CollectAndLint(rest.NewTaskCollector(metricsFunc(sampleMetrics)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if allowed[p.Metric] && strings.Contains(p.Text, "suffix") {
			continue
		}
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestCollectorEmpty(t *testing.T) {
	t.Parallel()
	c := rest.NewTaskCollector(metricsFunc(func() []worker.TaskMetrics { return nil }))
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("collected %d series from no tasks", n)
	}
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Host = "localhost"
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics Content-Type %q", ct)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestMetricsEndpoint checks that GET /metrics exposes the task metrics
// with their labels and the Go runtime metrics, both with an explicit
// Gatherer and with the default one found on the Controller.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	fake := newRestFake()
	fake.metrics = sampleMetrics()
	explicit, err := rest.New(rest.Config{Controller: newRestFake(), Gatherer: rest.NewMetricsRegistry(metricsFunc(sampleMetrics))})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		h    http.Handler
	}{
		{"explicit gatherer", explicit.Handler()},
		{"controller as source", newTestServer(t, fake, nil).Handler()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := scrape(t, tt.h)
			for _, want := range []string{
				`ferry_source_task_source_record_poll_total{connector="orders",task="0"} 42`,
				`ferry_source_task_source_record_write_total{connector="orders",task="0"} 40`,
				`ferry_sink_task_sink_record_send_total{connector="orders",task="0"} 39`,
				`ferry_sink_task_sink_record_active_count{connector="orders",task="0"} 4`,
				`ferry_task_error_record_errors_total{connector="audit",task="1"} 7`,
				`ferry_task_error_deadletterqueue_produce_requests_total{connector="orders",task="0"} 1`,
				`ferry_task_offset_commit_completion_total{connector="orders",task="0"} 5`,
				`ferry_task_offset_commit_failure_total{connector="orders",task="0"} 1`,
				`ferry_source_task_poll_batch_time_seconds_total{connector="orders",task="0"} 0.25`,
				"go_goroutines ",
				"process_start_time_seconds ",
			} {
				if !strings.Contains(body, want) {
					t.Errorf("GET /metrics lacks %q", want)
				}
			}
		})
	}
}
