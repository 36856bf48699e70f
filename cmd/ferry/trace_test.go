package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
	ferryworker "github.com/ferryhq/ferry/worker"
)

// failSeven is a transform that fails the generator's event of seq 7, so a
// real connector dead-letters one event.
type failSeven struct{}

func (failSeven) Apply(r *api.Record) (bool, error) {
	if bytes.HasPrefix(r.Event.Data, []byte(`{"seq":7,`)) {
		return false, errors.New("seq 7 is not welcome")
	}
	return true, nil
}

// TestTraceCommand is issue 17's tracing case on the real REST server and
// worker: a generator's events pass a filter and a template into a file
// sink; one is found by id with each step, a dropped one names the filter,
// a dead-lettered one its error; --follow shows a running connector's
// events live.
func TestTraceCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	reg := registry()
	reg.Transforms = append(reg.Transforms, api.TransformPlugin{Name: "failseven",
		New: func(api.Config) (api.Transform, error) { return failSeven{}, nil }})
	url := startInProcessWorkerWith(t, state.NewMemory(), reg)
	cli := func(wantCode int, args ...string) string {
		t.Helper()
		stdout, stderr, code := runCLI(t, url, "", args...)
		if code != wantCode {
			t.Fatalf("ferry %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, stdout, stderr)
		}
		return stdout + stderr
	}
	wantIn := func(out string, subs ...string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
	}

	conn, _ := json.Marshal(map[string]any{"name": "traced", "config": map[string]string{
		"source": "generator", "source.count": "30",
		"transforms":              "keep,bad,shape",
		"transforms.keep.type":    "filter",
		"transforms.keep.pattern": `{"data": {"seq": [{"numeric": [">=", 5]}]}}`,
		"transforms.bad.type":     "failseven",
		"transforms.shape.type":   "template",
		"transforms.shape.form":   "TEMPLATE", "transforms.shape.value": `{"seq": "$.data.seq"}`,
		"transforms.shape.template": `{"n": ${seq}}`,
		"sink":                      "file", "sink.path": filepath.Join(dir, "out.jsonl"),
		"errors.tolerance":            "all",
		"errors.deadletterqueue.sink": "file", "errors.deadletterqueue.sink.path": filepath.Join(dir, "dead.jsonl"),
		"trace.sample.rate": "1",
	}})
	stdout, stderr, code := runCLI(t, url, string(conn), "connectors", "create", "-f", "-")
	if code != 0 {
		t.Fatalf("create: %s %s", stdout, stderr)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(cli(0, "connectors", "status", "traced"), "FINISHED") {
		if time.Now().After(deadline) {
			t.Fatal("traced did not finish")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Found by id after the filter and the template, into the file sink.
	wantIn(cli(0, "connectors", "trace", "traced", "--event-id", "traced-0-12"),
		"traced-0-12  DELIVERED  task 0", `position "12"`, "(sampled)",
		"transform keep: kept", "transform bad: kept", "transform shape: changed", "sink: written")
	// Dropped by the filter, and dead-lettered with its error.
	wantIn(cli(0, "connectors", "trace", "traced", "--outcome", "dropped", "--limit", "1"), "DROPPED", "transform keep: dropped")
	failed := cli(0, "connectors", "trace", "traced", "--outcome", "failed", "--since", "1h")
	wantIn(failed, "traced-0-7  FAILED", "transform keep: kept", "transform bad: failed: seq 7 is not welcome", "dead-letter: written")
	if strings.Count(failed, "FAILED") != 1 {
		t.Errorf("one failed event expected:\n%s", failed)
	}
	var info ferryworker.TracesInfo
	if err := json.Unmarshal([]byte(cli(0, "connectors", "trace", "traced", "-o", "json")), &info); err != nil || len(info.Traces) != 30 {
		t.Errorf("-o json: %d traces, err %v; want every one of 30 events (trace.sample.rate=1)", len(info.Traces), err)
	}
	wantIn(cli(1, "connectors", "trace", "traced", "--outcome", "lost"), "outcome must be")
	wantIn(cli(1, "connectors", "trace", "traced", "--since", "yesterday"), "--since wants")
	wantIn(cli(1, "connectors", "trace", "traced", "--limit", "5000"), "HTTP 400", "limit must be")
	wantIn(cli(1, "connectors", "trace", "nope"), "HTTP 404")

	// --follow shows a running connector's events live, each stage with
	// the event after the stages that changed it.
	conn, _ = json.Marshal(map[string]any{"name": "live", "config": map[string]string{
		"source": "generator", "source.rate": "200",
		"transforms": "shape", "transforms.shape.type": "template",
		"transforms.shape.form": "TEMPLATE", "transforms.shape.value": `{"seq": "$.data.seq"}`,
		"transforms.shape.template": `{"n": ${seq}}`,
		"sink":                      "drop",
	}})
	if _, stderr, code := runCLI(t, url, string(conn), "connectors", "create", "-f", "-"); code != 0 {
		t.Fatalf("create live: %s", stderr)
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer fcancel()
	root := newRootCmd()
	root.AddCommand(newConnectorsCmd())
	var out, errb bytes.Buffer
	if code := execute(fctx, root, []string{"--url", url, "connectors", "trace", "live", "--follow"}, &out, &errb); code != 0 {
		t.Fatalf("--follow: exit %d: %s", code, errb.String())
	}
	wantIn(out.String(), "DELIVERED", "source: read  {\"seq\":", "transform shape: changed  {\"n\":", "sink: written")
	if n := strings.Count(out.String(), "DELIVERED"); n < 10 {
		t.Errorf("--follow printed %d events in 3 s of 200 events/s:\n%s", n, out.String())
	}
}
