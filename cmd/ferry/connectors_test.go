package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/cli")

// fakeWorker answers like a Kafka Connect-shaped Ferry worker with fixed
// payloads and records every request it gets.
type fakeWorker struct {
	mu   sync.Mutex
	reqs []string
}

func (f *fakeWorker) requests() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.reqs, "\n")
}

const (
	statusOrders = `{"name":"orders","connector":{"state":"RUNNING","worker_id":"127.0.0.1:8083"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"127.0.0.1:8083"},{"id":1,"state":"FAILED","worker_id":"127.0.0.1:8084","trace":"sink file: open /tmp/o.jsonl: permission denied\n\tat runtime.put\n\tat runtime.loop"}],"type":"source"}`
	statusUsers  = `{"name":"users","connector":{"state":"PAUSED","worker_id":"127.0.0.1:8083"},"tasks":[{"id":0,"state":"PAUSED","worker_id":"127.0.0.1:8083"}],"type":"source"}`
	infoOrders   = `{"name":"orders","config":{"name":"orders","source":"generator","sink":"file","sink.path":"/tmp/o.jsonl","sink.password":"[hidden]","transforms.t.template":"line1\nline2"},"tasks":[{"connector":"orders","task":0},{"connector":"orders","task":1}],"type":"source"}`
)

func (f *fakeWorker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	line := r.Method + " " + r.URL.RequestURI()
	if len(body) > 0 {
		line += " " + string(body)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, line)
	f.mu.Unlock()

	reply := func(status int, payload string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, payload)
	}
	notFound := func(name string) {
		reply(404, fmt.Sprintf(`{"error_code":404,"message":"Connector %s not found"}`, name))
	}
	name := r.PathValue("name")
	if name != "" && name != "orders" && name != "users" && name != "running" && r.Method != http.MethodPost {
		notFound(name)
		return
	}
	switch r.Pattern {
	case "GET /connectors":
		switch strings.Join(r.URL.Query()["expand"], ",") {
		case "status":
			reply(200, `{"users":{"status":`+statusUsers+`},"orders":{"status":`+statusOrders+`}}`)
		default:
			reply(200, `["orders","users"]`)
		}
	case "POST /connectors":
		var req struct {
			Name   string            `json:"name"`
			Config map[string]string `json:"config"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			reply(500, `{"error_code":500,"message":"bad test request"}`)
			return
		}
		if req.Name == "exists" {
			reply(409, `{"error_code":409,"message":"Connector exists already exists"}`)
			return
		}
		out, _ := json.Marshal(map[string]any{"name": req.Name, "config": req.Config, "tasks": []any{}, "type": "source"})
		reply(201, string(out))
	case "GET /connectors/{name}":
		reply(200, infoOrders)
	case "DELETE /connectors/{name}":
		w.WriteHeader(204)
	case "GET /connectors/{name}/config":
		reply(200, `{"name":"orders","source":"generator","sink":"file","sink.path":"/tmp/o.jsonl"}`)
	case "GET /connectors/{name}/status":
		reply(200, statusOrders)
	case "POST /connectors/{name}/restart":
		if r.URL.Query().Get("includeTasks") == "true" || r.URL.Query().Get("onlyFailed") == "true" {
			reply(202, strings.ReplaceAll(statusOrders, `"FAILED"`, `"RESTARTING"`))
			return
		}
		w.WriteHeader(204)
	case "PUT /connectors/{name}/pause", "PUT /connectors/{name}/resume":
		w.WriteHeader(202)
	case "PUT /connectors/{name}/stop":
		w.WriteHeader(204)
	case "GET /connectors/{name}/offsets":
		reply(200, `{"offsets":[{"partition":{"partition":"task-0"},"offset":{"position":"1234"}},{"partition":{"partition":"bin"},"offset":{"position_base64":"AP8="}},{"partition":{"db":"shop","table":"orders"},"offset":{"file":"mysql-bin.000001","pos":"4"}}]}`)
	case "PATCH /connectors/{name}/offsets", "DELETE /connectors/{name}/offsets":
		if name == "running" {
			reply(400, `{"error_code":400,"message":"connector must be in the STOPPED state"}`)
			return
		}
		verb := "altered"
		if r.Method == http.MethodDelete {
			verb = "reset"
		}
		reply(200, `{"message":"The offsets for this connector have been `+verb+` successfully"}`)
	case "GET /connector-plugins":
		reply(200, `[{"class":"generator","type":"source","version":"0.1.0","summary":"Synthetic events"},{"class":"file","type":"sink","version":"0.1.0","summary":"Appends events\nas JSON lines"},{"class":"filter","type":"transformation","version":"0.1.0"}]`)
	case "PUT /connector-plugins/{plugin}/config/validate":
		var cfg map[string]string
		_ = json.Unmarshal(body, &cfg)
		if cfg["sink.path"] != "" {
			reply(200, `{"name":"generator","error_count":0,"groups":["Common","Source","Sink"],"configs":[{"definition":{"name":"source"},"value":{"name":"source","value":"generator","errors":[]}},{"definition":{"name":"sink.path"},"value":{"name":"sink.path","value":"/tmp/o.jsonl","errors":[]}}]}`)
			return
		}
		reply(200, `{"name":"generator","error_count":2,"groups":["Common","Sink"],"configs":[{"definition":{"name":"source"},"value":{"name":"source","value":"generator","errors":[]}},{"definition":{"name":"sink.path"},"value":{"name":"sink.path","value":null,"errors":["Missing required configuration \"sink.path\" which has no default value."]}},{"definition":{"name":"tasks.max"},"value":{"name":"tasks.max","value":"zero","errors":["Invalid value zero: not a number"]}}]}`)
	case "GET /proxy-error/connectors/{name}/status":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		io.WriteString(w, "<html><body>502 Bad Gateway</body></html>\n")
	default:
		reply(404, `{"error_code":404,"message":"HTTP 404 Not Found"}`)
	}
}

func newFakeWorker(t *testing.T) (*fakeWorker, string) {
	t.Helper()
	f := &fakeWorker{}
	mux := http.NewServeMux()
	for _, p := range []string{
		"GET /connectors", "POST /connectors", "GET /connectors/{name}", "DELETE /connectors/{name}",
		"GET /connectors/{name}/config", "GET /connectors/{name}/status", "POST /connectors/{name}/restart",
		"PUT /connectors/{name}/pause", "PUT /connectors/{name}/resume", "PUT /connectors/{name}/stop",
		"GET /connectors/{name}/offsets", "PATCH /connectors/{name}/offsets", "DELETE /connectors/{name}/offsets",
		"GET /connector-plugins", "PUT /connector-plugins/{plugin}/config/validate",
		"GET /proxy-error/connectors/{name}/status", "/",
	} {
		mux.Handle(p, f)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// runCLI runs the ferry command line in-process against url.
func runCLI(t *testing.T, url, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCmd()
	root.AddCommand(newConnectorsCmd(), newPluginsCmd())
	root.SetIn(strings.NewReader(stdin))
	var out, errb bytes.Buffer
	code = execute(context.Background(), root, append([]string{"--url", url}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

func TestCLIGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		stdin string
	}{
		{"list", []string{"connectors", "list"}, ""},
		{"list-json", []string{"connectors", "list", "-o", "json"}, ""},
		{"get", []string{"connectors", "get", "orders"}, ""},
		{"get-json", []string{"connectors", "get", "orders", "--output", "json"}, ""},
		{"get-missing", []string{"connectors", "get", "missing"}, ""},
		{"create-yaml", []string{"connectors", "create", "-f", "testdata/cli/orders.yaml"}, ""},
		{"create-json", []string{"connectors", "create", "-f", "testdata/cli/orders.json", "--initial-state", "paused"}, ""},
		{"create-stdin-flat", []string{"connectors", "create", "-f", "-"}, "name: flat\nsource: generator\ntasks.max: 2\n"},
		{"create-exists", []string{"connectors", "create", "-f", "-"}, `{"name":"exists","config":{"source":"generator"}}`},
		{"create-broken-json", []string{"connectors", "create", "-f", "testdata/cli/broken.json"}, ""},
		{"create-broken-yaml", []string{"connectors", "create", "-f", "testdata/cli/broken.yaml"}, ""},
		{"apply-broken-json", []string{"connectors", "apply", "-f", "testdata/cli/broken.json"}, ""},
		{"create-bad-value", []string{"connectors", "create", "-f", "-"}, "name: x\nconfig:\n  source: [a, b]\n"},
		{"create-no-file", []string{"connectors", "create"}, ""},
		{"delete", []string{"connectors", "delete", "orders"}, ""},
		{"pause", []string{"connectors", "pause", "orders"}, ""},
		{"resume", []string{"connectors", "resume", "orders"}, ""},
		{"stop", []string{"connectors", "stop", "orders"}, ""},
		{"stop-json", []string{"connectors", "stop", "orders", "-o", "json"}, ""},
		{"restart", []string{"connectors", "restart", "orders"}, ""},
		{"restart-tasks", []string{"connectors", "restart", "orders", "--include-tasks", "--only-failed"}, ""},
		{"status", []string{"connectors", "status", "orders"}, ""},
		{"status-json", []string{"connectors", "status", "orders", "-o", "json"}, ""},
		{"offsets", []string{"connectors", "offsets", "orders"}, ""},
		{"offsets-reset", []string{"connectors", "offsets", "orders", "--reset"}, ""},
		{"offsets-set", []string{"connectors", "offsets", "orders", "--set-file", "testdata/cli/offsets.yaml"}, ""},
		{"offsets-reset-running", []string{"connectors", "offsets", "running", "--reset"}, ""},
		{"offsets-both", []string{"connectors", "offsets", "orders", "--reset", "--set-file", "x"}, ""},
		{"config", []string{"connectors", "config", "orders"}, ""},
		{"validate-ok", []string{"connectors", "validate", "-f", "testdata/cli/orders.json"}, ""},
		{"validate-errors", []string{"connectors", "validate", "-f", "testdata/cli/invalid.json"}, ""},
		{"plugins", []string{"plugins", "list"}, ""},
		{"bad-output", []string{"connectors", "list", "-o", "xml"}, ""},
		{"missing-arg", []string{"connectors", "status"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, url := newFakeWorker(t)
			stdout, stderr, code := runCLI(t, url, tt.stdin, tt.args...)
			got := fmt.Sprintf("$ ferry %s\n--- exit %d\n--- stdout\n%s--- stderr\n%s--- requests\n%s\n",
				strings.Join(tt.args, " "), code, stdout, stderr, fake.requests())
			checkGolden(t, filepath.Join("testdata", "cli", tt.name+".golden"), got)
		})
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// A proxy or anything else that does not answer Kafka Connect's error JSON
// still gives a readable error with the HTTP status.
func TestCLINonJSONError(t *testing.T) {
	t.Parallel()
	_, url := newFakeWorker(t)
	_, stderr, code := runCLI(t, url+"/proxy-error", "", "connectors", "status", "orders")
	if code == 0 || stderr != "error (HTTP 502): <html><body>502 Bad Gateway</body></html>\n" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestCLIUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	_, stderr, code := runCLI(t, url, "", "connectors", "list")
	if code != 1 || !strings.HasPrefix(stderr, "error: client: ") || !strings.Contains(stderr, "connection refused") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestCLIDebugLogging(t *testing.T) {
	t.Parallel()
	_, url := newFakeWorker(t)
	stdout, stderr, code := runCLI(t, url, "", "--log-level", "debug", "connectors", "config", "orders")
	if code != 0 || !strings.Contains(stdout, "sink.path") {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	if !strings.Contains(stderr, "level=DEBUG msg=\"ferry api\" method=GET path=/connectors/orders/config status=200") {
		t.Errorf("no debug line for the request in stderr:\n%s", stderr)
	}
	_, stderr, code = runCLI(t, url, "", "--log-level", "loud", "connectors", "list")
	if code != 1 || !strings.Contains(stderr, "--log-level") {
		t.Errorf("bad --log-level: exit %d, stderr %q", code, stderr)
	}
}

func TestConnectorFromDoc(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    string // JSON of the request
		wantErr string
	}{
		{"envelope yaml", "name: a\nconfig: {x: 1, y: true, z: 1.50, s: \"007\"}\n",
			`{"name":"a","config":{"s":"007","x":"1","y":"true","z":"1.50"}}`, ""},
		{"envelope json", `{"name":"a","config":{"tasks.max":3},"initial_state":"PAUSED"}`,
			`{"name":"a","config":{"tasks.max":"3"},"initial_state":"PAUSED"}`, ""},
		{"name in config", `{"config":{"name":"b","k":"v"}}`, `{"name":"b","config":{"k":"v","name":"b"}}`, ""},
		{"flat", "name: c\nk: v\n", `{"name":"c","config":{"k":"v","name":"c"}}`, ""},
		{"anchor", "name: d\nconfig:\n  a: &x hello\n  b: *x\n", `{"name":"d","config":{"a":"hello","b":"hello"}}`, ""},
		{"no name", `{"config":{"k":"v"}}`, "", "no name"},
		{"null value", "name: e\nconfig:\n  k:\n", "", `"k": want a string, number or boolean, got null`},
		{"list value", `{"name":"e","config":{"k":[1]}}`, "", "got a list"},
		{"object value", `{"name":"e","config":{"k":{"a":"b"}}}`, "", "got an object"},
		{"config not object", `{"name":"e","config":"k=v"}`, "", "config must be an object"},
		{"unknown key", `{"name":"e","config":{},"tasks":[]}`, "", `unknown top-level key "tasks"`},
		{"not an object", `["a"]`, "", "want an object"},
		{"duplicate key", "name: a\nname: b\n", "", "already defined"},
		{"syntax", `{"name": `, "", "JSON syntax error at line 1, column 10: unexpected end of JSON input"},
		{"yaml syntax", "name: a\n b: c\n", "", "YAML syntax error at line 2: mapping values are not allowed"},
		{"json duplicate key", "{\"name\": \"a\",\n \"name\": \"b\"}", "", `JSON syntax error at line 2, column 2: key "name" already defined`},
		{"yaml flow", `{name: f, config: {k: v}}`, `{"name":"f","config":{"k":"v"}}`, ""},
		{"json numbers as written", `{"name":"g","config":{"a":1.50,"b":true,"c":-0}}`, `{"name":"g","config":{"a":"1.50","b":"true","c":"-0"}}`, ""},
		{"empty", ``, "", "empty document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := parseDocFile("-", []byte(tt.in))
			var got []byte
			if err == nil {
				var req any
				req, err = connectorFromDoc(doc, "file")
				got, _ = json.Marshal(req)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// FuzzConnectorFile: no input makes the file reader panic, and every
// request it accepts has a name.
func FuzzConnectorFile(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a","config":{"k":"v"}}`,
		"name: a\nconfig:\n  k: 1\n",
		"a: &x [*x]\n",
		"name: a\nk: !!binary aGk=\n",
		"- a\n- b\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		doc, err := parseDocFile("-", in)
		if err != nil {
			return
		}
		req, err := connectorFromDoc(doc, "fuzz")
		if err == nil && req.Name == "" {
			t.Fatalf("accepted a connector without a name: %+v", req)
		}
	})
}
