package rest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime/trace"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
	"github.com/ferryhq/ferry/worker/workertest"
)

// traceWorker runs a standalone worker with a ticks → count connector
// "ticks" (every event traced) behind a REST server with the given request
// timeout, and returns the server's URL.
func traceWorker(t *testing.T, requestTimeout time.Duration) string {
	t.Helper()
	var written atomic.Int64
	reg := worker.Registry{
		Sources: []api.SourcePlugin{{Name: "ticks", New: func(api.TaskConfig) (api.Source, error) { return &workertest.TickSource{}, nil }}},
		Sinks:   []api.SinkPlugin{{Name: "count", New: func(api.TaskConfig) (api.Sink, error) { return workertest.CountSink{N: &written}, nil }}},
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := worker.New(worker.Config{WorkerID: "trace", Store: state.NewMemory(), Registry: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rest.New(rest.Config{Addr: "127.0.0.1:0", Controller: w, Logger: quiet, RequestTimeout: requestTimeout})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.Run(ctx); err != nil {
			t.Errorf("worker Run: %v", err)
		}
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); cancel(); wg.Wait() })
	if _, err := w.CreateConnector(ctx, "ticks", map[string]string{"name": "ticks", "source": "ticks", "sink": "count", "trace.sample.rate": "1"}, state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	return hs.URL
}

func TestTraceQueryBounds(t *testing.T) {
	t.Parallel()
	base := traceWorker(t, 0)
	get := func(q string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + "/connectors/ticks/traces?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, q := range []string{
		"limit=0", "limit=1001", "limit=-1", "limit=abc", "limit=99999999999999999999", "limit=1.5",
		"outcome=lost", "outcome=DROPPED", "since=yesterday", "since=-5m", "since=87600000h",
		"since=2026-13-01T00:00:00Z", "event_id=" + strings.Repeat("x", 1025),
	} {
		if code, body := get(q); code != http.StatusBadRequest || !strings.Contains(body, `"error_code":400`) {
			t.Errorf("%.60s: %d %s, want 400", q, code, body)
		}
	}
	// Valid filters answer 200 with a list (traces once events flow).
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get("limit=5&outcome=delivered&since=1h")
		var info worker.TracesInfo
		if code != http.StatusOK || json.Unmarshal([]byte(body), &info) != nil {
			t.Fatalf("%d %s", code, body)
		}
		if len(info.Traces) == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no traces after 10 s: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, body := get("event_id=" + url.QueryEscape("no such event") + "&since=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)))
	if code != http.StatusOK || body != `{"traces":[]}` {
		t.Errorf("no match: %d %s", code, body)
	}
	resp, err := http.Get(base + "/connectors/nope/traces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown connector: %d", resp.StatusCode)
	}
}

// TestTapStreams reads a live tap as NDJSON, and sees the worker end the
// stream at its request timeout.
func TestTapStreams(t *testing.T) {
	t.Parallel()
	base := traceWorker(t, 2*time.Second)
	start := time.Now()
	resp, err := http.Get(base + "/connectors/ticks/tap")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	n := 0
	for sc.Scan() {
		var ev trace.TapEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if ev.Connector != "ticks" || ev.Outcome != trace.Delivered || len(ev.Stages) != 2 ||
			ev.Stages[0].Stage != trace.StageSource || ev.Stages[0].After == nil || ev.Stages[1].Decision != trace.Written {
			t.Fatalf("event %s", sc.Text())
		}
		n++
	}
	if n == 0 {
		t.Error("the tap showed no event")
	}
	if d := time.Since(start); d < time.Second || d > 10*time.Second {
		t.Errorf("the stream ended after %v; want at the request timeout (2 s)", d)
	}
	resp, err = http.Get(base + "/connectors/nope/tap")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown connector: %d", resp.StatusCode)
	}
}

// TestTracesNeedATraceSource: a Controller without tracing answers 404.
func TestTracesNeedATraceSource(t *testing.T) {
	t.Parallel()
	h := newTestServer(t, newRestFake(), nil).Handler()
	for _, path := range []string{"/connectors/x/traces", "/connectors/x/tap"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1"+path, nil))
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "does not serve event traces") {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body.String())
		}
	}
}
