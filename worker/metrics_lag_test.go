package worker_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/generator"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
)

// gatedSink takes every write while its gate is open; a test holds the
// gate to stop the sink (a broker that stopped answering).
type gatedSink struct{ gate *sync.Mutex }

func (s gatedSink) Open(context.Context) error  { return nil }
func (s gatedSink) Close(context.Context) error { return nil }
func (s gatedSink) Write(context.Context, []api.Record) error {
	s.gate.Lock()
	defer s.gate.Unlock()
	return nil
}

// metricValue reads one sample of a scrape: the series named name with
// exactly the labels given, in the text format's order.
func metricValue(t *testing.T, body, series string) (float64, bool) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	return v, true
}

// TestLagMetricsFollowAStuckSink is issue 17's "lag rising while a sink
// is paused and falling after": a standalone worker runs a generator into
// a sink the test stops, and /metrics (through the REST handler) shows
// ferry_source_lag_seconds growing with the clock while the sink is
// stuck, falling back once it writes again, and the end-to-end latency
// histogram counting the records, those that waited among the slow ones.
func TestLagMetricsFollowAStuckSink(t *testing.T) {
	t.Parallel()
	var gate sync.Mutex
	reg := worker.Registry{
		Sources: []api.SourcePlugin{generator.Source},
		Sinks:   []api.SinkPlugin{{Name: "gated", New: func(api.TaskConfig) (api.Sink, error) { return gatedSink{&gate}, nil }}},
	}
	w, err := worker.New(worker.Config{WorkerID: "w", Store: state.NewMemory(), Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	gateHeld := false
	defer func() {
		if gateHeld {
			gate.Unlock()
		}
		cancel()
		<-done
	}()
	srv, err := rest.New(rest.Config{Addr: "127.0.0.1:0", Controller: w})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	if _, err := w.CreateConnector(ctx, "gen", map[string]string{"source": "generator", "source.rate": "200", "sink": "gated"}, state.TargetRunning); err != nil {
		t.Fatal(err)
	}

	const (
		lagSeries = `ferry_source_lag_seconds{connector="gen",task="0"}`
		count     = `ferry_end_to_end_latency_seconds_count{connector="gen"}`
		within1s  = `ferry_end_to_end_latency_seconds_bucket{connector="gen",le="1"}`
	)
	scrape := func() string {
		t.Helper()
		resp, err := http.Get(hs.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// waitMetrics polls /metrics until ok holds for the scrape.
	waitMetrics := func(what string, ok func(body string) bool) string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			body := scrape()
			if ok(body) {
				return body
			}
			if time.Now().After(deadline) {
				lag, _ := metricValue(t, body, lagSeries)
				n, _ := metricValue(t, body, count)
				t.Fatalf("%s: not within 15s (lag %vs, latency count %v)", what, lag, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	value := func(body, series string) float64 {
		t.Helper()
		v, ok := metricValue(t, body, series)
		if !ok {
			t.Fatalf("/metrics lacks %s", series)
		}
		return v
	}
	lagUnder := func(limit float64) func(string) bool {
		return func(body string) bool {
			v, ok := metricValue(t, body, lagSeries)
			n, _ := metricValue(t, body, count)
			return ok && n > 50 && v < limit
		}
	}

	body := waitMetrics("records delivered with little lag", lagUnder(0.5))
	flowing := value(body, lagSeries)
	if value(body, within1s) == 0 {
		t.Fatalf("no record within 1 s in the latency histogram:\n%s", body)
	}

	gate.Lock() // the sink stops answering
	gateHeld = true
	body = waitMetrics("lag above 1s with the sink stuck", func(body string) bool {
		v, ok := metricValue(t, body, lagSeries)
		return ok && v > 1
	})
	stuck := value(body, lagSeries)
	time.Sleep(500 * time.Millisecond)
	later := value(scrape(), lagSeries)
	if later < stuck+0.4 {
		t.Errorf("lag went from %.3fs to %.3fs in 500ms with the sink stuck; want it to grow with the clock", stuck, later)
	}
	before := value(body, count)

	gate.Unlock() // the sink writes again
	gateHeld = false
	body = waitMetrics("lag back under 0.5s after the sink recovered", func(body string) bool {
		v, ok := metricValue(t, body, lagSeries)
		n, _ := metricValue(t, body, count)
		return ok && v < 0.5 && n > before+50
	})
	slow := value(body, count) - value(body, within1s)
	if slow == 0 {
		t.Errorf("no record above 1 s in the latency histogram after the sink was stuck for over 1.5 s")
	}
	t.Logf("lag: %.3fs flowing, %.3fs → %.3fs stuck, %.3fs after; %v of %v records took over 1 s",
		flowing, stuck, later, value(body, lagSeries), slow, value(body, count))
}

// TestConnectorLatencyOutlivesTaskRestarts: a connector's latency
// histogram keeps its counts when a task restarts (a counter that fell
// back would read as a reset to Prometheus) and goes with the connector.
func TestConnectorLatencyOutlivesTaskRestarts(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	if _, err := w.CreateConnector(ctx, "lat", baseConfig("lat"), state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	count := func() uint64 {
		for _, cm := range w.ConnectorMetrics() {
			if cm.Connector == "lat" {
				return cm.Latency.Count
			}
		}
		return 0
	}
	eventually(t, "records in the latency histogram", func() bool { return count() > 10 })
	before := count()
	if err := w.RestartTask(ctx, "lat", 0); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "lat", "RUNNING", "RUNNING")
	if after := count(); after < before {
		t.Fatalf("latency count fell from %d to %d over a task restart", before, after)
	}
	eventually(t, "the restarted task's records counted too", func() bool { return count() > before+10 })
	if err := w.DeleteConnector(ctx, "lat"); err != nil {
		t.Fatal(err)
	}
	for _, cm := range w.ConnectorMetrics() {
		if cm.Connector == "lat" {
			t.Fatalf("a deleted connector keeps its histogram: %+v", cm)
		}
	}
}
