package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestRegistryIsValid(t *testing.T) {
	t.Parallel()
	reg := registry()
	if err := reg.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(reg.Sources) == 0 || len(reg.Sinks) == 0 || len(reg.Transforms) == 0 || len(reg.Predicates) == 0 {
		t.Errorf("registry lacks a kind: %+v", reg)
	}
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestStandaloneInProcess runs the subcommand's body twice on one data
// dir: connector files are applied, connectors come back from the store,
// and a cancelled context (the signal) ends it cleanly.
func TestStandaloneInProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	conn := writeFile(t, filepath.Join(dir, "gen.yaml"), `
name: gen
config:
  connector.class: generator   # Kafka Connect's key names the source
  source.count: 30
  sink: file
  sink.path: `+out+`
  offset.flush.interval.ms: 20
`)
	opts := standaloneOptions{dataDir: filepath.Join(dir, "data"), taskOptions: taskOptions{restartInitial: time.Second, restartMax: time.Minute, restartAttempts: 10, commitInterval: time.Second}}

	run := func(files ...string) (stop func() error, url string) {
		o := opts
		o.listen = freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runStandalone(ctx, o, files) }()
		return func() error { cancel(); return <-done }, "http://" + o.listen
	}
	taskState := func(url string) string {
		resp, err := http.Get(url + "/connectors/gen/status")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		var st struct{ Tasks []struct{ State string } }
		b, _ := io.ReadAll(resp.Body)
		if json.Unmarshal(b, &st) != nil || len(st.Tasks) != 1 {
			return string(b)
		}
		return st.Tasks[0].State
	}
	waitTask := func(url, want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for got := taskState(url); got != want; got = taskState(url) {
			if time.Now().After(deadline) {
				t.Fatalf("task state %q, want %q", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	stop, url := run(conn)
	waitTask(url, "FINISHED")
	if err := stop(); err != nil {
		t.Fatalf("first run: %v", err)
	}
	b, _ := os.ReadFile(out)
	if n := strings.Count(string(b), "\n"); n != 30 {
		t.Fatalf("sink has %d lines, want 30", n)
	}

	// Without files: the stored connector comes back and, its offsets
	// committed, writes nothing again.
	stop, url = run()
	waitTask(url, "FINISHED")
	if err := stop(); err != nil {
		t.Fatalf("second run: %v", err)
	}
	b, _ = os.ReadFile(out)
	if n := strings.Count(string(b), "\n"); n != 30 {
		t.Errorf("after restart the sink has %d lines, want still 30", n)
	}
}

func TestStandaloneRejectsBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"not an object", "[1, 2]", "want an object"},
		{"nested value", `{"name":"x","config":{"source":{"a":1}}}`, `config key "source"`},
		{"invalid config", `{"name":"x","config":{"source":"generator","sink":"file"}}`, "sink.path: is required"},
		{"unknown plugin", `{"name":"x","config":{"source":"nope","sink":"drop"}}`, `unknown source plugin "nope"`},
		{"connector.class of both sides", `{"name":"x","config":{"connector.class":"file","sink.path":"/x"}}`, "names both a source and a sink plugin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json"), tc.content)
			o := standaloneOptions{dataDir: filepath.Join(dir, "data-"+strings.ReplaceAll(tc.name, " ", "-")), listen: freeAddr(t)}
			err := runStandalone(context.Background(), o, []string{path})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("runStandalone = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// A bad collector flag fails before anything starts, naming the flag.
	o := standaloneOptions{dataDir: filepath.Join(dir, "data-gc"), listen: freeAddr(t)}
	o.memoryLimit = "lots"
	if err := runStandalone(context.Background(), o, nil); err == nil || !strings.Contains(err.Error(), "--memory-limit") {
		t.Errorf("runStandalone with --memory-limit lots = %v, want an error naming the flag", err)
	}
	// A missing --data-dir is a usage error.
	if code := execute(context.Background(), newTestRoot(), []string{"standalone"}, io.Discard, io.Discard); code == 0 {
		t.Error("standalone without --data-dir exited 0")
	}
}

func newTestRoot() *cobra.Command {
	root := newRootCmd()
	root.AddCommand(newStandaloneCmd())
	return root
}
