package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ferryhq/ferry/state"
	ferryworker "github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
)

// previewFake answers POST /transforms/preview like a worker whose chain
// keeps events with data.status PAID, fails events with subject "bad" and
// drops the rest (by the first alias); a config without transforms= is
// invalid and an event without an id is malformed. It records requests.
type previewFake struct {
	mu   sync.Mutex
	reqs []string
}

func (f *previewFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Method+" "+r.URL.RequestURI()+" "+string(body))
	f.mu.Unlock()
	reply := func(status int, payload string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, payload)
	}
	var req struct {
		Config map[string]string `json:"config"`
		Events []struct {
			ID      string `json:"id"`
			Subject string `json:"subject"`
			Data    struct {
				ID     int    `json:"id"`
				Status string `json:"status"`
			} `json:"data"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		reply(500, `{"error_code":500,"message":"bad test request"}`)
		return
	}
	if req.Config["transforms"] == "" {
		reply(400, `{"error_code":400,"message":"Connector configuration is invalid and contains the following 1 error(s):\ntransforms.x.type: alias \"x\" is not listed in transforms\nYou can also find the above list of errors at the endpoint `+"`/connector-plugins/{pluginName}/config/validate`"+`","fields":[{"field":"transforms.x.type","message":"alias \"x\" is not listed in transforms"}]}`)
		return
	}
	alias, _, _ := strings.Cut(req.Config["transforms"], ",")
	var results []string
	for i, ev := range req.Events {
		switch {
		case ev.ID == "":
			reply(400, fmt.Sprintf(`{"error_code":400,"message":"events[%d]: cloudevent: required attribute \"id\" is missing or empty"}`, i))
			return
		case ev.Subject == "bad":
			results = append(results, `{"dropped":false,"dropped_by":"","events":[],"error":"transform \"reshape\": template: $.data.total: no value"}`)
		case ev.Data.Status == "PAID":
			results = append(results, fmt.Sprintf(`{"dropped":false,"dropped_by":"","events":[{"specversion":"1.0","id":%q,"source":"/shop","type":"order","datacontenttype":"application/json","data":{"order":"%d"}}],"error":""}`, ev.ID, ev.Data.ID))
		default:
			results = append(results, fmt.Sprintf(`{"dropped":true,"dropped_by":%q,"events":[],"error":""}`, alias))
		}
	}
	reply(200, `{"results":[`+strings.Join(results, ",")+`]}`)
}

// lockedBuffer is a bytes.Buffer safe for concurrent use. The root
// command makes its logger slog's default, so a worker of a parallel test
// that logs through slog.Default may write into this run's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func runTransformsCLI(t *testing.T, url, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCmd()
	root.AddCommand(newTransformsCmd())
	root.SetIn(strings.NewReader(stdin))
	var out, errb lockedBuffer
	code = execute(context.Background(), root, append([]string{"--url", url}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

func TestTransformsPreviewGolden(t *testing.T) {
	t.Parallel()
	const (
		chain  = "testdata/cli/transforms-chain.yaml"
		events = "testdata/cli/transforms-events.jsonl"
	)
	tests := []struct {
		name  string
		args  []string
		stdin string
	}{
		{"transforms-preview", []string{"transforms", "preview", "-f", chain, "-e", events}, ""},
		{"transforms-preview-json", []string{"transforms", "preview", "-f", chain, "-e", events, "-o", "json"}, ""},
		{"transforms-preview-connector-file", []string{"transform", "preview", "--file", "testdata/cli/transforms-connector.json", "--events", "-"},
			`{"specversion":"1.0","id":"a","source":"/s","type":"t","data":{"id":9,"status":"PAID"}}` + "\n"},
		{"transforms-preview-chain-envelope", []string{"transforms", "preview", "-f", "-", "-e", events}, `{"config": {"transforms": "only", "transforms.only.type": "filter"}}`},
		{"transforms-preview-events-array", []string{"transforms", "preview", "-f", chain, "-e", "-"},
			`[{"specversion":"1.0","id":"a","source":"/s","type":"t","data":{"id":1,"status":"PAID"}}, {"specversion":"1.0","id":"b","source":"/s","type":"t","data":{"id":2}}]`},
		{"transforms-preview-failed", []string{"transforms", "preview", "-f", chain, "-e", "-"},
			`{"specversion":"1.0","id":"a","source":"/s","type":"t","subject":"bad","data":{"id":1,"status":"PAID"}}` + "\n"},
		{"transforms-preview-invalid-chain", []string{"transforms", "preview", "-f", "-", "-e", events}, "transforms.x.type: filter\n"},
		{"transforms-preview-bad-event", []string{"transforms", "preview", "-f", chain, "-e", "-"},
			"\n" + `{"specversion":"1.0","id":"a","source":"/s","type":"t"}` + "\n\n" + `{"specversion":"1.0","source":"/s","type":"t"}` + "\n"},
		{"transforms-preview-event-not-json", []string{"transforms", "preview", "-f", chain, "-e", "-"}, "{\"id\": \"a\"}\n{\"id\": \n"},
		{"transforms-preview-chain-object", []string{"transforms", "preview", "-f", "-", "-e", events},
			"transforms: f\ntransforms.f.type: filter\ntransforms.f.pattern: {\"data\": {\"status\": [\"PAID\"]}}\n"},
		{"transforms-preview-both-stdin", []string{"transforms", "preview", "-f", "-", "-e", "-"}, ""},
		{"transforms-preview-no-events-flag", []string{"transforms", "preview", "-f", chain}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &previewFake{}
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			stdout, stderr, code := runTransformsCLI(t, srv.URL, tt.stdin, tt.args...)
			fake.mu.Lock()
			reqs := strings.Join(fake.reqs, "\n")
			fake.mu.Unlock()
			got := fmt.Sprintf("$ ferry %s\n--- exit %d\n--- stdout\n%s--- stderr\n%s--- requests\n%s\n",
				strings.Join(tt.args, " "), code, stdout, stderr, reqs)
			checkGolden(t, filepath.Join("testdata", "cli", tt.name+".golden"), got)
		})
	}
}

func TestParseEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		wantN     int
		wantLines []int
		wantErr   string
	}{
		{"lines", "{\"a\":1}\n\n  {\"b\":2}  \r\n", 2, []int{1, 3}, ""},
		{"no final newline", `{"a":1}`, 1, []int{1}, ""},
		{"array", ` [{"a":1},{"b":2}]`, 2, nil, ""},
		{"empty", "", 0, nil, ""},
		{"bad line", "{\"a\":1}\n{\"a\":\n", 0, nil, "line 2: not valid JSON"},
		{"bad array", `[{"a":1},]`, 0, nil, "not a JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			evs, lines, err := parseEvents([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(evs) != tt.wantN || fmt.Sprint(lines) != fmt.Sprint(tt.wantLines) {
				t.Fatalf("got %d events, lines %v, err %v; want %d, %v", len(evs), lines, err, tt.wantN, tt.wantLines)
			}
		})
	}
}

// FuzzParseEvents: no input makes the events reader panic, and every
// event it returns is valid JSON with a line to report it by.
func FuzzParseEvents(f *testing.F) {
	for _, seed := range []string{"{\"a\":1}\n\n{\"b\":2}\n", "[1,2]", "", "\n\n", "{\"a\":\n", "[", "\xff\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		evs, lines, err := parseEvents(in)
		if err != nil {
			return
		}
		for i, e := range evs {
			if !json.Valid(e) {
				t.Fatalf("event %d is not valid JSON: %q", i, e)
			}
		}
		if lines != nil && len(lines) != len(evs) {
			t.Fatalf("%d lines for %d events", len(lines), len(evs))
		}
	})
}

// TestTransformsPreviewAgainstStandalone runs the CLI against the real
// REST server over a standalone worker with the shipped plugins: the real
// filter and template produce what the golden fake pretends.
func TestTransformsPreviewAgainstStandalone(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := ferryworker.New(ferryworker.Config{WorkerID: "preview", Store: state.NewMemory(), Registry: registry(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rest.New(rest.Config{Controller: w, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)

	stdout, stderr, code := runTransformsCLI(t, hs.URL, "", "transforms", "preview",
		"-f", "testdata/cli/transforms-chain.yaml", "-e", "testdata/cli/transforms-events.jsonl", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var resp ferryworker.PreviewResponse
	if err := json.Unmarshal([]byte(stdout), &resp); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	type out struct {
		ID   string          `json:"id"`
		Data json.RawMessage `json:"data"`
	}
	decode := func(r ferryworker.PreviewResult) out {
		t.Helper()
		if len(r.Events) != 1 {
			t.Fatalf("result %+v: want one output event", r)
		}
		var o out
		if err := json.Unmarshal(r.Events[0], &o); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, o.Data); err != nil { // --output json indents
			t.Fatal(err)
		}
		o.Data = buf.Bytes()
		return o
	}
	if len(resp.Results) != 3 {
		t.Fatalf("%d results, want 3: %s", len(resp.Results), stdout)
	}
	if o := decode(resp.Results[0]); o.ID != "o-1" || string(o.Data) != `{"order":"1","total":"12.5"}` {
		t.Errorf("event o-1 became %+v (data %s)", o, o.Data)
	}
	if r := resp.Results[1]; !r.Dropped || r.DroppedBy != "paid" || r.Error != "" || len(r.Events) != 0 {
		t.Errorf("event o-2: %+v, want dropped by paid", r)
	}
	if o := decode(resp.Results[2]); o.ID != "o-3" || string(o.Data) != `{"order":"3","total":"99"}` {
		t.Errorf("event o-3 became %+v (data %s)", o, o.Data)
	}

	// The table, and the worker's own validation of a bad pattern.
	stdout, _, code = runTransformsCLI(t, hs.URL, "", "transforms", "preview",
		"-f", "testdata/cli/transforms-connector.json", "-e", "testdata/cli/transforms-events.jsonl")
	if code != 0 || !strings.Contains(stdout, "1      paid") || !strings.Contains(stdout, "3 event(s): 2 kept, 1 dropped, 0 failed") {
		t.Errorf("table (exit %d):\n%s", code, stdout)
	}
	_, stderr, code = runTransformsCLI(t, hs.URL, `{"transforms": "f", "transforms.f.type": "filter", "transforms.f.pattern": "{\"data\": {\"n\": [{\"numeric\": [\">\"]}]}}"}`,
		"transforms", "preview", "-f", "-", "-e", "testdata/cli/transforms-events.jsonl")
	if code != 1 || !strings.Contains(stderr, "error (HTTP 400)") || !strings.Contains(stderr, "transforms.f.pattern") {
		t.Errorf("bad pattern: exit %d, stderr %s", code, stderr)
	}
}
