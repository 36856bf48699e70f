package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
	"github.com/ferryhq/ferry/worker/workertest"
)

// TestRESTOverStandalone runs the REST server on a real port over the real
// standalone worker, with two tiny plugins, and checks what the fake-based
// tests cannot: the worker's redaction reaches clients, tasks run and show
// up in /metrics through the Controller's TaskMetricsSource, and offsets
// can be changed once the connector is stopped.
func TestRESTOverStandalone(t *testing.T) {
	t.Parallel()
	const secret = "e2e-secret-value"
	var written atomic.Int64
	reg := worker.Registry{
		Sources: []api.SourcePlugin{{
			Name: "ticks",
			New:  func(api.TaskConfig) (api.Source, error) { return &workertest.TickSource{}, nil },
		}},
		Sinks: []api.SinkPlugin{{
			Name: "count",
			Spec: api.Spec{{Name: "token", Type: api.TypeString, Secret: true, Required: true}},
			New:  func(api.TaskConfig) (api.Sink, error) { return workertest.CountSink{N: &written}, nil },
		}},
	}
	var logs restSyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := worker.New(worker.Config{WorkerID: "rest-e2e", Store: state.NewMemory(), Registry: reg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rest.New(rest.Config{Addr: "127.0.0.1:0", Controller: w, Version: "e2e", Logger: log})
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
	wg.Go(func() {
		if err := srv.Run(ctx); err != nil {
			t.Errorf("server Run: %v", err)
		}
	})
	defer func() { cancel(); wg.Wait() }()
	select {
	case <-srv.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready")
	}
	base := "http://" + srv.Addr()

	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(b), secret) {
			t.Errorf("%s %s leaked the secret: %s", method, path, b)
		}
		return resp.StatusCode, string(b)
	}
	expect := func(method, path, body string, status int) string {
		t.Helper()
		got, b := call(method, path, body)
		if got != status {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, got, status, b)
		}
		return b
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	body := expect("POST", "/connectors", `{"name": "e2e", "config": {"source": "ticks", "sink": "count", "sink.token": "`+secret+`", "offset.flush.interval.ms": 20}}`, 201)
	if !strings.Contains(body, api.Redacted) {
		t.Errorf("create answer does not show the secret as %s: %s", api.Redacted, body)
	}
	expect("GET", "/connectors/e2e/config", "", 200)
	expect("GET", "/connectors/e2e/tasks", "", 200)
	expect("GET", "/connectors?expand=info&expand=status", "", 200)
	expect("PUT", "/connector-plugins/count/config/validate", `{"source": "ticks", "sink": "count", "sink.token": "`+secret+`"}`, 200)

	eventually("task RUNNING", func() bool {
		var st worker.ConnectorStateInfo
		_ = json.Unmarshal([]byte(expect("GET", "/connectors/e2e/status", "", 200)), &st)
		return len(st.Tasks) == 1 && st.Tasks[0].State == "RUNNING"
	})
	sent := regexp.MustCompile(`(?m)^ferry_sink_task_sink_record_send_total\{connector="e2e",task="0"\} (\d+)`)
	eventually("records counted in /metrics", func() bool {
		m := sent.FindStringSubmatch(expect("GET", "/metrics", "", 200))
		return m != nil && m[1] != "0"
	})
	if written.Load() == 0 {
		t.Error("metrics count records the sink never saw")
	}

	// A missing required secret is a field-level 400.
	body = expect("PUT", "/connectors/e2e/config", `{"source": "ticks", "sink": "count"}`, 400)
	if !strings.Contains(body, `"field":"sink.token"`) {
		t.Errorf("validation error does not name sink.token: %s", body)
	}

	expect("PATCH", "/connectors/e2e/offsets", `{"offsets": [{"partition": {"partition": "p0"}, "offset": {"position": "1"}}]}`, 400)
	expect("PUT", "/connectors/e2e/stop", "", 204)
	expect("PATCH", "/connectors/e2e/offsets", `{"offsets": [{"partition": {"partition": "p0"}, "offset": {"position": "7"}}]}`, 200)
	body = expect("GET", "/connectors/e2e/offsets", "", 200)
	if !strings.Contains(body, `"position":"7"`) {
		t.Errorf("offsets after alter: %s", body)
	}
	expect("DELETE", "/connectors/e2e", "", 204)
	expect("GET", "/connectors/e2e", "", 404)

	cancel()
	wg.Wait()
	if strings.Contains(logs.String(), secret) {
		t.Errorf("a log line holds the secret")
	}
}

// restSyncBuffer is a bytes.Buffer safe for the concurrent writes of a
// logger shared by goroutines.
type restSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *restSyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *restSyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
