package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
)

// The -update flag rewrites the golden files. Another test file of this
// binary may define the same flag, so it is registered only once and read
// through the flag set.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// restStep is one request of a golden scenario.
type restStep struct {
	name   string // golden file testdata/rest/<name>.json
	method string
	path   string
	body   string
}

// restGolden is what a golden file holds: the response to one request.
type restGolden struct {
	Request  string            `json:"request"`
	Status   int               `json:"status"`
	Headers  map[string]string `json:"headers,omitempty"`
	Body     json.RawMessage   `json:"body"`
	BodyText string            `json:"body_text,omitempty"` // a body that is not JSON
}

// goldenHeaders are the response headers worth pinning.
var goldenHeaders = []string{"Content-Type", "Location"}

func newTestServer(t testing.TB, ctrl worker.Controller, log *slog.Logger) *rest.Server {
	t.Helper()
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := rest.New(rest.Config{
		Addr:         "127.0.0.1:0",
		Controller:   ctrl,
		Version:      "0.1.0-test",
		Commit:       "abc1234",
		ClusterID:    "ferry-test",
		Logger:       log,
		MaxBodyBytes: 4096,
		Loggers:      worker.NewLogLevels(slog.LevelInfo),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func do(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.Host = "127.0.0.1:8083" // httptest's example.com is not a host the worker answers to
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func toGolden(step restStep, rec *httptest.ResponseRecorder) restGolden {
	g := restGolden{Request: step.method + " " + step.path, Status: rec.Code}
	for _, h := range goldenHeaders {
		if v := rec.Header().Get(h); v != "" {
			if g.Headers == nil {
				g.Headers = map[string]string{}
			}
			g.Headers[h] = v
		}
	}
	body := rec.Body.Bytes()
	switch {
	case len(body) == 0:
		g.Body = json.RawMessage("null")
	case json.Valid(body):
		g.Body = body
	default:
		g.Body = json.RawMessage("null")
		g.BodyText = string(body)
	}
	return g
}

func checkGolden(t *testing.T, name string, g restGolden) {
	t.Helper()
	got, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".json")
	if updateGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./worker -run TestRESTGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: response differs from %s\n--- got\n%s\n--- want\n%s", g.Request, path, got, want)
	}
}

const (
	ordersConfig = `{"source": "generator", "source.count": "1000", "sink": "file", "sink.path": "/tmp/orders.jsonl", "sink.token": "tok-123", "tasks.max": "1"}`
)

// TestRESTGolden drives one server through a connector's whole life and
// every error path, comparing status, headers and body with
// testdata/rest/<step>.json. The steps share state, so they run in order.
func TestRESTGolden(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, newRestFake(), nil)
	big := `{"name": "big", "config": {"source": "generator", "sink.path": "` + strings.Repeat("x", 5000) + `"}}`
	steps := []restStep{
		// Worker.
		{"root", "GET", "/", ""},
		{"health", "GET", "/health", ""},
		{"list-empty", "GET", "/connectors", ""},

		// Plugins and validation.
		{"plugins", "GET", "/connector-plugins", ""},
		{"plugins-all", "GET", "/connector-plugins?connectorsOnly=false", ""},
		{"plugins-bad-bool", "GET", "/connector-plugins?connectorsOnly=maybe", ""},
		{"plugin-config", "GET", "/connector-plugins/file/config", ""},
		{"plugin-config-unknown", "GET", "/connector-plugins/nope/config", ""},
		{"validate-ok", "PUT", "/connector-plugins/file/config/validate", ordersConfig},
		{"validate-errors", "PUT", "/connector-plugins/generator/config/validate", `{"source": "generator", "sink": "file"}`},
		{"validate-plugin-mismatch", "PUT", "/connector-plugins/http/config/validate", ordersConfig},

		// Transform preview (stateless; see workertest.PreviewRegistry).
		{"preview", "POST", "/transforms/preview", previewBody},
		{"preview-empty", "POST", "/transforms/preview", `{"config": {}, "events": []}`},
		{"preview-invalid-chain", "POST", "/transforms/preview", `{"config": {"transforms": "a,b", "transforms.a.type": "nope", "transforms.b.type": "fail", "transforms.b.key": 7, "transforms.c.to": "x"}, "events": []}`},
		{"preview-secret-reference", "POST", "/transforms/preview", `{"config": {"transforms": "a", "transforms.a.type": "settype", "transforms.a.to": "${env:HOME}"}, "events": []}`},
		{"preview-malformed-event", "POST", "/transforms/preview", `{"config": {}, "events": [` + previewEventJSON + `, {"specversion": "1.0", "source": "/s", "type": "t"}]}`},
		{"preview-event-not-object", "POST", "/transforms/preview", `{"config": {}, "events": ["id=1"]}`},
		{"preview-too-many-events", "POST", "/transforms/preview", `{"events": [` + strings.Repeat(`{},`, worker.MaxPreviewEvents) + `{}]}`},
		{"preview-unknown-field", "POST", "/transforms/preview", `{"config": {}, "event": []}`},
		{"preview-trailing-brace", "POST", "/transforms/preview", `{"events": []} }`},
		{"preview-config-value-object", "POST", "/transforms/preview", `{"config": {"transforms": {"a": "b"}}, "events": []}`},

		// Create, in every accepted shape.
		{"create", "POST", "/connectors", `{"name": "orders", "config": ` + ordersConfig + `}`},
		{"create-name-in-config", "POST", "/connectors", `{"config": {"name": "audit", "source": "generator", "sink": "file", "sink.path": "/tmp/audit.jsonl"}}`},
		{"create-paused", "POST", "/connectors", `{"name": "paused", "config": {"source": "generator", "sink": "file", "sink.path": "/tmp/p.jsonl"}, "initial_state": "PAUSED"}`},
		{"create-numbers-bools", "POST", "/connectors", `{"name": "typed", "config": {"source": "generator", "source.count": 3, "source.rate": 2.5, "sink": "file", "sink.path": "/tmp/t.jsonl", "errors.log.enable": true, "tasks.max": 1}}`},
		{"create-flat", "POST", "/connectors/flat", `{"source": "generator", "sink": "file", "sink.path": "/tmp/flat.jsonl"}`},

		// Create errors.
		{"create-exists", "POST", "/connectors", `{"name": "orders", "config": ` + ordersConfig + `}`},
		{"create-invalid", "POST", "/connectors", `{"name": "bad", "config": {"source": "nope", "sink": "file"}}`},
		{"create-name-mismatch", "POST", "/connectors", `{"name": "a", "config": {"name": "b", "source": "generator"}}`},
		{"create-no-name", "POST", "/connectors", `{"config": {"source": "generator"}}`},
		{"create-name-slash", "POST", "/connectors", `{"name": "a/b", "config": {}}`},
		{"create-bad-initial-state", "POST", "/connectors", `{"name": "x", "config": {}, "initial_state": "SLEEPING"}`},
		{"create-malformed-json", "POST", "/connectors", "{\"name\": \"x\",\n \"config\": {\"source\": }}"},
		{"create-truncated-json", "POST", "/connectors", `{"name": "x", "config": {`},
		{"create-trailing-data", "POST", "/connectors", `{"name": "x", "config": {}} {}`},
		{"create-empty-body", "POST", "/connectors", ""},
		{"create-unknown-field", "POST", "/connectors", `{"name": "x", "configs": {}}`},
		{"create-name-wrong-type", "POST", "/connectors", `{"name": 42, "config": {}}`},
		{"create-config-wrong-type", "POST", "/connectors", `{"name": "x", "config": ["source=generator"]}`},
		{"create-value-object", "POST", "/connectors", `{"name": "x", "config": {"source": "generator", "source.fields": {"id": "int"}}}`},
		{"create-value-array", "POST", "/connectors", `{"name": "x", "config": {"transforms": ["a", "b"]}}`},
		{"create-value-null", "POST", "/connectors", `{"name": "x", "config": {"sink.path": null}}`},
		{"create-rebalancing", "POST", "/connectors", `{"name": "rebalancing", "config": {}}`},
		{"create-too-large", "POST", "/connectors", big},
		{"create-flat-exists", "POST", "/connectors/orders", ordersConfig},
		{"create-flat-name-mismatch", "POST", "/connectors/flat2", `{"name": "other", "source": "generator"}`},

		// Read.
		{"list", "GET", "/connectors", ""},
		{"list-trailing-slash", "GET", "/connectors/", ""},
		{"list-expand-status", "GET", "/connectors?expand=status", ""},
		{"list-expand-info", "GET", "/connectors?expand=info", ""},
		{"list-expand-both", "GET", "/connectors?expand=status&expand=info", ""},
		{"list-expand-unknown", "GET", "/connectors?expand=topics", ""},
		{"get", "GET", "/connectors/orders", ""},
		{"get-not-found", "GET", "/connectors/missing", ""},
		{"get-escaped-name", "GET", "/connectors/a%2Fb", ""},
		{"config", "GET", "/connectors/orders/config", ""},
		{"status", "GET", "/connectors/orders/status", ""},
		{"status-internal-error", "GET", "/connectors/broken/status", ""},
		{"tasks", "GET", "/connectors/orders/tasks", ""},
		{"task-status", "GET", "/connectors/orders/tasks/0/status", ""},
		{"task-status-not-found", "GET", "/connectors/orders/tasks/7/status", ""},
		{"task-status-bad-id", "GET", "/connectors/orders/tasks/zero/status", ""},
		{"get-panics", "GET", "/connectors/exploding", ""},

		// Config changes.
		{"config-put-update", "PUT", "/connectors/orders/config", `{"source": "generator", "source.count": "5", "sink": "file", "sink.path": "/tmp/orders2.jsonl", "sink.token": "tok-456"}`},
		{"config-put-create", "PUT", "/connectors/fresh/config", `{"source": "generator", "sink": "file", "sink.path": "/tmp/fresh.jsonl"}`},
		{"config-put-name-mismatch", "PUT", "/connectors/orders/config", `{"name": "other", "source": "generator"}`},
		{"config-put-invalid", "PUT", "/connectors/orders/config", `{"source": "generator", "sink": "file"}`},
		{"config-put-not-object", "PUT", "/connectors/orders/config", `"source=generator"`},
		{"config-patch", "PATCH", "/connectors/orders/config", `{"source.count": 10, "sink.token": null}`},
		{"config-patch-invalid", "PATCH", "/connectors/orders/config", `{"sink.path": null}`},
		{"config-patch-name-mismatch", "PATCH", "/connectors/orders/config", `{"name": "other"}`},
		{"config-patch-not-found", "PATCH", "/connectors/missing/config", `{"source.count": "1"}`},

		// Kafka Connect's connector.class, plugin classes, topics.
		{"config-put-connector-class-roundtrip", "PUT", "/connectors/orders/config", `{"connector.class": "ferry.pipeline", "source": "generator", "source.count": "10", "sink": "file", "sink.path": "/tmp/orders2.jsonl"}`},
		{"create-connector-class-source", "POST", "/connectors", `{"name": "classy", "config": {"connector.class": "generator", "sink": "file", "sink.path": "/tmp/classy.jsonl"}}`},
		{"create-connector-class-qualified-sink", "POST", "/connectors", `{"name": "classy2", "config": {"connector.class": "ferry.sink.file", "source": "generator", "sink.path": "/tmp/classy2.jsonl"}}`},
		{"create-connector-class-transform", "POST", "/connectors", `{"name": "x", "config": {"connector.class": "ferry.transform.filter", "sink": "file"}}`},
		{"create-connector-class-java", "POST", "/connectors", `{"name": "x", "config": {"connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector", "sink": "file"}}`},
		{"create-connector-class-conflict", "POST", "/connectors", `{"name": "x", "config": {"connector.class": "ferry.source.generator", "source": "other", "sink": "file"}}`},
		{"config-patch-connector-class", "PATCH", "/connectors/orders/config", `{"connector.class": "ferry.pipeline", "source.count": "11"}`},
		{"validate-plugin-class", "PUT", "/connector-plugins/ferry.source.generator/config/validate", `{"name": "v", "sink": "file", "sink.path": "/tmp/v.jsonl"}`},
		{"validate-plugin-class-transform", "PUT", "/connector-plugins/ferry.transform.filter/config/validate", `{"name": "v"}`},
		{"topics", "GET", "/connectors/orders/topics", ""},
		{"topics-not-found", "GET", "/connectors/missing/topics", ""},
		{"topics-reset", "PUT", "/connectors/orders/topics/reset", ""},
		{"topics-reset-not-found", "PUT", "/connectors/missing/topics/reset", ""},

		// Log levels (last_modified changes each run, so only answers
		// without it are pinned here; TestLoggersLastModified checks it).
		{"loggers", "GET", "/admin/loggers", ""},
		{"logger-inherited", "GET", "/admin/loggers/ferry.connectors.mysql", ""},
		{"logger-connector", "GET", "/admin/loggers/orders", ""},
		{"logger-unknown", "GET", "/admin/loggers/org.apache.kafka", ""},
		{"logger-set", "PUT", "/admin/loggers/ferry.runtime", `{"level": "debug"}`},
		{"logger-set-child", "PUT", "/admin/loggers/ferry.runtime.task", `{"level": "TRACE"}`},
		{"logger-set-parent", "PUT", "/admin/loggers/ferry", `{"level": "WARN"}`},
		{"logger-set-cluster-scope", "PUT", "/admin/loggers/orders?scope=cluster", `{"level": "ERROR"}`},
		{"logger-set-cluster-bad-name", "PUT", "/admin/loggers/a%01b?scope=cluster", `{"level": "ERROR"}`},
		{"logger-set-cluster-bad-level", "PUT", "/admin/loggers/root?scope=cluster", `{"level": "LOUD"}`},
		{"logger-set-bad-scope", "PUT", "/admin/loggers/orders?scope=everywhere", `{"level": "ERROR"}`},
		{"logger-set-bad-level", "PUT", "/admin/loggers/root", `{"level": "LOUD"}`},
		{"logger-set-no-level", "PUT", "/admin/loggers/root", `{}`},
		{"logger-set-unknown", "PUT", "/admin/loggers/nope", `{"level": "INFO"}`},

		// Lifecycle.
		{"restart", "POST", "/connectors/orders/restart", ""},
		{"restart-include-tasks", "POST", "/connectors/orders/restart?includeTasks=true", ""},
		{"restart-only-failed", "POST", "/connectors/orders/restart?includeTasks=true&onlyFailed=true", ""},
		{"restart-bad-bool", "POST", "/connectors/orders/restart?includeTasks=yes-please", ""},
		{"restart-not-found", "POST", "/connectors/missing/restart", ""},
		{"task-restart", "POST", "/connectors/orders/tasks/0/restart", ""},
		{"task-restart-not-found", "POST", "/connectors/orders/tasks/3/restart", ""},
		{"pause", "PUT", "/connectors/orders/pause", ""},
		{"status-paused", "GET", "/connectors/orders/status", ""},
		{"resume", "PUT", "/connectors/orders/resume", ""},
		{"pause-not-found", "PUT", "/connectors/missing/pause", ""},

		// Offsets: only while STOPPED.
		{"offsets-empty", "GET", "/connectors/orders/offsets", ""},
		{"offsets-alter-running", "PATCH", "/connectors/orders/offsets", `{"offsets": [{"partition": {"partition": "task-0"}, "offset": {"position": "10"}}]}`},
		{"offsets-reset-running", "DELETE", "/connectors/orders/offsets", ""},
		{"stop", "PUT", "/connectors/orders/stop", ""},
		{"status-stopped", "GET", "/connectors/orders/status", ""},
		{"tasks-stopped", "GET", "/connectors/orders/tasks", ""},
		{"offsets-alter", "PATCH", "/connectors/orders/offsets", `{"offsets": [{"partition": {"partition": "task-0"}, "offset": {"position": "1234"}}, {"partition": {"partition": "task-1"}, "offset": {"position": 99}}]}`},
		{"offsets-after-alter", "GET", "/connectors/orders/offsets", ""},
		{"offsets-alter-delete-one", "PATCH", "/connectors/orders/offsets", `{"offsets": [{"partition": {"partition": "task-1"}, "offset": null}]}`},
		{"offsets-after-delete-one", "GET", "/connectors/orders/offsets", ""},
		{"offsets-alter-empty", "PATCH", "/connectors/orders/offsets", `{"offsets": []}`},
		{"offsets-alter-missing", "PATCH", "/connectors/orders/offsets", `{}`},
		{"offsets-alter-no-partition", "PATCH", "/connectors/orders/offsets", `{"offsets": [{"offset": {"position": "1"}}]}`},
		{"offsets-alter-nested-value", "PATCH", "/connectors/orders/offsets", `{"offsets": [{"partition": {"partition": "task-0"}, "offset": {"position": {"file": "a", "pos": 1}}}]}`},
		{"offsets-alter-null-value", "PATCH", "/connectors/orders/offsets", `{"offsets": [{"partition": {"partition": "task-0"}, "offset": {"position": null}}]}`},
		{"offsets-reset", "DELETE", "/connectors/orders/offsets", ""},
		{"offsets-after-reset", "GET", "/connectors/orders/offsets", ""},
		{"offsets-not-found", "GET", "/connectors/missing/offsets", ""},
		{"stop-rocketmq", "POST", "/connectors/audit/stop", ""},
		{"status-rocketmq-stopped", "GET", "/connectors/audit/status", ""},

		// Delete.
		{"delete", "DELETE", "/connectors/orders", ""},
		{"delete-not-found", "DELETE", "/connectors/orders", ""},
		{"get-deleted", "GET", "/connectors/orders", ""},

		// Routing.
		{"unknown-route", "GET", "/nope", ""},
		{"unknown-subresource", "GET", "/connectors/audit/widgets", ""},
		{"method-not-allowed", "DELETE", "/connectors", ""},
		{"method-not-allowed-pause", "POST", "/connectors/audit/pause", ""},
	}
	seen := map[string]bool{}
	for _, step := range steps {
		if seen[step.name] {
			t.Fatalf("duplicate step name %q", step.name)
		}
		seen[step.name] = true
		t.Run(step.name, func(t *testing.T) {
			rec := do(s.Handler(), step.method, step.path, step.body)
			checkGolden(t, step.name, toGolden(step, rec))
		})
	}
	if !updateGolden() {
		// A golden file no step writes any more is stale.
		files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
		for _, f := range files {
			if name := strings.TrimSuffix(filepath.Base(f), ".json"); !seen[name] {
				t.Errorf("stale golden file %s: no step uses it", f)
			}
		}
	}
}

// TestRESTStatusCodes pins the Kafka Connect status code of each route
// independently of the golden bodies, so a careless -update cannot change
// them unnoticed.
func TestRESTStatusCodes(t *testing.T) {
	t.Parallel()
	valid := `{"source": "generator", "sink": "file", "sink.path": "/tmp/x.jsonl"}`
	tests := []struct {
		name   string
		setup  []restStep
		step   restStep
		status int
	}{
		{name: "create 201", step: restStep{"", "POST", "/connectors", `{"name": "c", "config": ` + valid + `}`}, status: 201},
		{name: "flat create 201", step: restStep{"", "POST", "/connectors/c", valid}, status: 201},
		{name: "put creates 201", step: restStep{"", "PUT", "/connectors/c/config", valid}, status: 201},
		{name: "put updates 200", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}}, step: restStep{"", "PUT", "/connectors/c/config", valid}, status: 200},
		{name: "patch 200", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}}, step: restStep{"", "PATCH", "/connectors/c/config", `{"tasks.max": "2"}`}, status: 200},
		{name: "delete 204", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}}, step: restStep{"", "DELETE", "/connectors/c", ""}, status: 204},
		{name: "pause 202", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}}, step: restStep{"", "PUT", "/connectors/c/pause", ""}, status: 202},
		{name: "resume 202", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}}, step: restStep{"", "PUT", "/connectors/c/resume", ""}, status: 202},
		{name: "stop 204", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}}, step: restStep{"", "PUT", "/connectors/c/stop", ""}, status: 204},
		{name: "restart 204", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}}, step: restStep{"", "POST", "/connectors/c/restart", ""}, status: 204},
		{name: "restart false flags 204", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}}, step: restStep{"", "POST", "/connectors/c/restart?includeTasks=false&onlyFailed=false", ""}, status: 204},
		{name: "restart includeTasks 202", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}}, step: restStep{"", "POST", "/connectors/c/restart?includeTasks=true", ""}, status: 202},
		{name: "restart onlyFailed 202", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}}, step: restStep{"", "POST", "/connectors/c/restart?onlyFailed=true", ""}, status: 202},
		{name: "task restart 204", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}}, step: restStep{"", "POST", "/connectors/c/tasks/0/restart", ""}, status: 204},
		{name: "offsets patch 200", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}, {"", "PUT", "/connectors/c/stop", ""}}, step: restStep{"", "PATCH", "/connectors/c/offsets", `{"offsets": [{"partition": {"p": "0"}, "offset": {"o": "1"}}]}`}, status: 200},
		{name: "offsets delete 200", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}, {"", "PUT", "/connectors/c/stop", ""}}, step: restStep{"", "DELETE", "/connectors/c/offsets", ""}, status: 200},
		{name: "offsets not stopped 400", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}}, step: restStep{"", "DELETE", "/connectors/c/offsets", ""}, status: 400},
		{name: "exists 409", setup: []restStep{{"", "PUT", "/connectors/c/config", valid}}, step: restStep{"", "POST", "/connectors/c", valid}, status: 409},
		{name: "rebalancing 409", step: restStep{"", "POST", "/connectors", `{"name": "rebalancing", "config": {}}`}, status: 409},
		{name: "validation 400", step: restStep{"", "POST", "/connectors", `{"name": "c", "config": {}}`}, status: 400},
		{name: "not found 404", step: restStep{"", "GET", "/connectors/c/status", ""}, status: 404},
		{name: "malformed 400", step: restStep{"", "POST", "/connectors", `{`}, status: 400},
		{name: "too large 413", step: restStep{"", "PUT", "/connectors/c/config", `{"k": "` + strings.Repeat("v", 5000) + `"}`}, status: 413},
		{name: "unknown route 404", step: restStep{"", "GET", "/v2/connectors", ""}, status: 404},
		{name: "wrong method 405", step: restStep{"", "PATCH", "/connectors", ""}, status: 405},
		{name: "panic 500", step: restStep{"", "GET", "/connectors/exploding/config", ""}, status: 500},
		{name: "metrics 200", step: restStep{"", "GET", "/metrics", ""}, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newTestServer(t, newRestFake(), nil).Handler()
			for _, st := range tt.setup {
				if rec := do(h, st.method, st.path, st.body); rec.Code >= 300 {
					t.Fatalf("setup %s %s: %d %s", st.method, st.path, rec.Code, rec.Body)
				}
			}
			rec := do(h, tt.step.method, tt.step.path, tt.step.body)
			if rec.Code != tt.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", tt.step.method, tt.step.path, rec.Code, tt.status, rec.Body)
			}
			if tt.status >= 400 {
				var e struct {
					ErrorCode int    `json:"error_code"`
					Message   string `json:"message"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.ErrorCode != tt.status || e.Message == "" {
					t.Fatalf("error body %s: want {error_code: %d, message: …} (decode err %v)", rec.Body, tt.status, err)
				}
			}
			if tt.status == 204 && rec.Body.Len() != 0 {
				t.Fatalf("204 with a body: %s", rec.Body)
			}
		})
	}
}

// TestRESTNeverLeaksSecrets sends a secret through every route that echoes
// a config back, and checks that neither a response nor the debug log holds
// it: the server must pass the Controller's redaction through and never log
// bodies.
func TestRESTNeverLeaksSecrets(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-p4ssw0rd"
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newTestServer(t, newRestFake(), log).Handler()
	cfg := `{"source": "generator", "sink": "file", "sink.path": "/tmp/s.jsonl", "sink.token": "` + secret + `"}`
	steps := []restStep{
		{"", "POST", "/connectors", `{"name": "s", "config": ` + cfg + `}`},
		{"", "POST", "/connectors/flat", cfg},
		{"", "PUT", "/connectors/put/config", cfg},
		{"", "PATCH", "/connectors/s/config", `{"sink.token": "` + secret + `"}`},
		{"", "GET", "/connectors/s", ""},
		{"", "GET", "/connectors/s/config", ""},
		{"", "GET", "/connectors/s/tasks", ""},
		{"", "GET", "/connectors?expand=info&expand=status", ""},
		{"", "PUT", "/connector-plugins/file/config/validate", cfg},
		// Failures must not echo the body either.
		{"", "POST", "/connectors", `{"name": "s", "config": ` + cfg + `}`},
		{"", "POST", "/connectors", `{"name": "bad", "config": {"sink.token": "` + secret + `"}}`},
		{"", "POST", "/connectors", `{"name": "x", "config": {"sink.token": "` + secret + `", "a": {}}}`},
		{"", "POST", "/connectors", `{"name": "x", "config": {"sink.token": "` + secret + `", "source": }`},
		{"", "PUT", "/connectors/s/config", `{"name": "other", "sink.token": "` + secret + `"}`},
		{"", "POST", "/connectors", `{"name": "x", "unknown": "` + secret + `"}`},
	}
	for _, st := range steps {
		rec := do(h, st.method, st.path, st.body)
		if strings.Contains(rec.Body.String(), secret) {
			t.Errorf("%s %s (%d) leaked the secret: %s", st.method, st.path, rec.Code, rec.Body)
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("log leaked the secret:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "REST request") {
		t.Errorf("no debug request log written; the leak check proves nothing:\n%s", logs.String())
	}
}

// TestRESTRequestTimeout checks that a Controller call that outlives
// RequestTimeout answers 500 "Request timed out", as Kafka Connect.
func TestRESTRequestTimeout(t *testing.T) {
	t.Parallel()
	s, err := rest.New(rest.Config{
		Controller:     newRestFake(),
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		RequestTimeout: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := do(s.Handler(), "GET", "/connectors/slow/status", "")
	want := `{"error_code":500,"message":"Request timed out: reading status of \"slow\": context deadline exceeded"}`
	if rec.Code != 500 || rec.Body.String() != want {
		t.Fatalf("got %d %s, want 500 %s", rec.Code, rec.Body, want)
	}
}

// TestServerRun serves on a real port picked by the kernel, shuts down when
// ctx ends and leaves no goroutine behind. It is not parallel, so that
// goleak sees only its own goroutines.
func TestServerRun(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s := newTestServer(t, newRestFake(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("server not ready")
	}
	if strings.HasSuffix(s.Addr(), ":0") {
		t.Fatalf("Addr %q is not the bound address", s.Addr())
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + s.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if info["version"] != "0.1.0-test" || info["worker_id"] != restFakeWorker {
		t.Fatalf("GET / = %v", info)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if err := s.Run(context.Background()); err == nil {
		t.Fatal("second Run succeeded")
	}
}

func TestServerRunListenError(t *testing.T) {
	t.Parallel()
	s, err := rest.New(rest.Config{Addr: "256.0.0.1:bad", Controller: newRestFake(), Auth: rest.AuthConfig{Mode: rest.AuthNone}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Fatal("Run on a bad address succeeded")
	}
}

func TestNewServerValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  rest.Config
	}{
		{"no controller", rest.Config{}},
		{"negative body limit", rest.Config{Controller: newRestFake(), MaxBodyBytes: -1}},
		{"negative shutdown timeout", rest.Config{Controller: newRestFake(), ShutdownTimeout: -1}},
		{"negative request timeout", rest.Config{Controller: newRestFake(), RequestTimeout: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := rest.New(tt.cfg); err == nil {
				t.Fatal("NewServer accepted an invalid config")
			}
		})
	}
}
