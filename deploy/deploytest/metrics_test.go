package deploytest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/drop"
	"github.com/ferryhq/ferry/connectors/generator"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
)

// series is what a dashboard or rule may select: a series name Prometheus
// stores for an exported family (summaries and histograms store several),
// its labels and, for "state", the values seen.
type series struct {
	family string
	labels map[string]bool
	states map[string]bool
}

// targetLabels are the labels Prometheus adds to every scraped series
// (deploy/prometheus/prometheus.yml adds namespace).
var targetLabels = map[string]bool{"job": true, "instance": true, "namespace": true}

var (
	exportedOnce sync.Once
	exported     map[string]*series
	exportedErr  error
)

// exportedSeries scrapes GET /metrics of a real standalone worker running a
// generator → drop connector (so every per-task, per-connector and state
// series is there), plus the task collector over a task whose source
// reports lag (no plugin the test can run without a broker does) and the
// cluster collector (a cluster worker needs gossip and a cluster store),
// and adds Prometheus' own `up`.
func exportedSeries(t *testing.T) map[string]*series {
	t.Helper()
	exportedOnce.Do(func() { exported, exportedErr = scrapeWorker() })
	if exportedErr != nil {
		t.Fatal(exportedErr)
	}
	return exported
}

func scrapeWorker() (map[string]*series, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := worker.New(worker.Config{WorkerID: "deploytest", Store: state.NewMemory(), Logger: log,
		Registry: worker.Registry{Sources: []api.SourcePlugin{generator.Source}, Sinks: []api.SinkPlugin{drop.Sink}}})
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if _, err := w.CreateConnector(ctx, "gen", map[string]string{
		"name": "gen", "source": "generator", "source.rate": "1000", "sink": "drop",
	}, state.TargetRunning); err != nil {
		return nil, err
	}
	srv, err := rest.New(rest.Config{Addr: "127.0.0.1:0", Controller: w, Version: "test", Commit: "test", Logger: log})
	if err != nil {
		return nil, err
	}
	var families map[string]*dto.MetricFamily
	deadline := time.Now().Add(20 * time.Second)
	for {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Host = "127.0.0.1"
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		tp := expfmt.NewTextParser(model.UTF8Validation)
		families, err = tp.TextToMetricFamilies(rec.Body)
		if err != nil {
			return nil, err
		}
		// The task's status is recorded beside its first records, not
		// before them: wait for both.
		if f := families["ferry_sink_task_sink_record_ack_total"]; f != nil && f.GetMetric()[0].GetCounter().GetValue() > 0 &&
			families["ferry_task_state"] != nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the generator task wrote nothing in 20 s; /metrics:\n%s", rec.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(rest.NewTaskCollector(lagSource{}), rest.NewClusterCollector(clusterSource{}))
	lagged, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	for _, f := range lagged {
		families[f.GetName()] = f
	}

	out := map[string]*series{"up": {family: "up", labels: map[string]bool{}, states: map[string]bool{}}}
	for name, f := range families {
		s := &series{family: name, labels: map[string]bool{}, states: map[string]bool{}}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = true
				if l.GetName() == "state" {
					s.states[l.GetValue()] = true
				}
			}
		}
		names := []string{name}
		switch f.GetType() {
		case dto.MetricType_SUMMARY:
			names = append(names, name+"_sum", name+"_count")
			s.labels["quantile"] = true
		case dto.MetricType_HISTOGRAM:
			names = []string{name + "_bucket", name + "_sum", name + "_count"}
			s.labels["le"] = true
		}
		for _, n := range names {
			out[n] = s
		}
	}
	return out, nil
}

type lagSource struct{}

func (lagSource) TaskMetrics() []worker.TaskMetrics {
	return []worker.TaskMetrics{{Connector: "kafka-in", Task: 0,
		Snapshot: runtime.Snapshot{Lag: map[string]int64{"orders:0": 42}}}}
}

// clusterSource stands in for a cluster worker (which needs gossip and a
// cluster store) to export the cluster series.
type clusterSource struct{}

func (clusterSource) ClusterMetrics() worker.ClusterMetrics {
	return worker.ClusterMetrics{Leader: true, Generation: 1, Rebalances: 1, Members: map[string]int{"alive": 1}}
}

// TestExportedSeries: the scrape the other checks rely on holds what
// docs/rest.md promises, so a checker that found nothing cannot pass.
func TestExportedSeries(t *testing.T) {
	t.Parallel()
	got := exportedSeries(t)
	for _, name := range []string{
		"ferry_source_task_source_record_poll_total", "ferry_sink_task_sink_record_ack_total",
		"ferry_task_state", "ferry_connector_state", "ferry_task_retrying", "ferry_worker_tasks",
		"ferry_build_info", "ferry_source_lag_records", "ferry_source_lag_seconds",
		"ferry_end_to_end_latency_seconds_bucket", "ferry_rebalances_total", "ferry_cluster_leader",
		"process_resident_memory_bytes",
		"go_gc_duration_seconds_count", "up",
	} {
		if got[name] == nil {
			t.Errorf("%s is not exported", name)
		}
	}
	if s := got["ferry_task_state"]; s != nil && (!s.states["FAILED"] || !s.labels["task"]) {
		t.Errorf("ferry_task_state: labels %v, states %v", s.labels, s.states)
	}
	if got["ferry_made_up_total"] != nil {
		t.Error("a made-up name is exported")
	}
}
