package worker_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/worker/rest"
)

// TestStandaloneBehindREST drives the real REST server over a Standalone:
// the two halves agree on shapes, status codes and redaction.
func TestStandaloneBehindREST(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	srv, err := rest.New(rest.Config{Addr: "127.0.0.1:0", Controller: w})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	call := func(method, path, body string) (int, string) {
		t.Helper()
		return httpDo(t, method, hs.URL+path, body)
	}
	const secret = "rest-secret-token-77"
	code, body := call("POST", "/connectors", `{"name":"r","config":{"source":"counter","sink":"mem","sink.path":"r-out","sink.token":"`+secret+`","tasks.max":2,"offset.flush.interval.ms":"20"}}`)
	if code != http.StatusCreated || strings.Contains(body, secret) {
		t.Fatalf("create: %d %s", code, body)
	}
	w.waitStates(t, "r", "RUNNING", "RUNNING", "RUNNING")
	for _, path := range []string{"/connectors/r", "/connectors/r/config", "/connectors/r/tasks", "/connectors/r/status", "/connectors?expand=info&expand=status"} {
		code, body := call("GET", path, "")
		if code != http.StatusOK || strings.Contains(body, secret) {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	code, body = call("PUT", "/connector-plugins/counter/config/validate", `{"name":"v","source":"counter","sink":"mem","sink.token":"`+secret+`"}`)
	if code != http.StatusOK || strings.Contains(body, secret) || !strings.Contains(body, `"error_count":1`) {
		t.Errorf("validate: %d %s", code, body)
	}
	code, body = call("PATCH", "/connectors/r/offsets", `{"offsets":[{"partition":{"partition":"p0"},"offset":{"position":"5"}}]}`)
	if code != http.StatusBadRequest {
		t.Errorf("alter offsets while running: %d %s", code, body)
	}
	if code, body := call("PUT", "/connectors/r/pause", ""); code != http.StatusAccepted {
		t.Errorf("pause: %d %s", code, body)
	}
	w.waitStates(t, "r", "PAUSED", "PAUSED", "PAUSED")
	if code, body := call("PUT", "/connectors/r/stop", ""); code != http.StatusNoContent {
		t.Errorf("stop: %d %s", code, body)
	}
	w.waitStates(t, "r", "STOPPED")
	if code, body := call("PATCH", "/connectors/r/offsets", `{"offsets":[{"partition":{"partition":"p0"},"offset":{"position":"5"}}]}`); code != http.StatusOK {
		t.Errorf("alter offsets while stopped: %d %s", code, body)
	}
	if code, body := call("GET", "/connectors/r/offsets", ""); code != http.StatusOK || !strings.Contains(body, `"position":"5"`) {
		t.Errorf("offsets: %d %s", code, body)
	}
	if code, body := call("PUT", "/connectors/r/resume", ""); code != http.StatusAccepted {
		t.Errorf("resume: %d %s", code, body)
	}
	w.waitStates(t, "r", "RUNNING", "RUNNING", "RUNNING")
	eventually(t, "task metrics on /metrics", func() bool {
		_, body := call("GET", "/metrics", "")
		return strings.Contains(body, `ferry_source_task_source_record_poll_total{connector="r",task="1"}`)
	})
	if code, body := call("DELETE", "/connectors/r", ""); code != http.StatusNoContent {
		t.Errorf("delete: %d %s", code, body)
	}
	if code, _ := call("GET", "/connectors/r", ""); code != http.StatusNotFound {
		t.Errorf("get after delete: %d", code)
	}
}
