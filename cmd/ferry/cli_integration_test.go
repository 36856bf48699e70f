package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/state"
	ferryworker "github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
)

// TestCLIAgainstStandalone drives the CLI against the real REST server
// over a real standalone worker and Bolt store: the fakes of the golden
// tests are only as good as their likeness to this.
func TestCLIAgainstStandalone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := startInProcessWorker(t, dir)

	cli := func(wantCode int, stdin string, args ...string) string {
		t.Helper()
		stdout, stderr, code := runCLI(t, url, stdin, args...)
		if code != wantCode {
			t.Fatalf("ferry %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, stdout, stderr)
		}
		return stdout + stderr
	}
	wantIn := func(out string, subs ...string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(out, s) {
				t.Fatalf("output lacks %q:\n%s", s, out)
			}
		}
	}

	out := filepath.Join(dir, "orders.jsonl")
	conn := "name: orders\nconfig:\n  source: generator\n  source.count: 50\n  sink: file\n  sink.path: " + out + "\n  tasks.max: 1\n"

	wantIn(cli(0, "", "plugins", "list"), "generator", "source", "file", "sink")
	wantIn(cli(0, conn, "connectors", "validate", "-f", "-"), "valid")
	wantIn(cli(1, "name: bad\nconfig:\n  source: generator\n  sink: file\n", "connectors", "validate", "-f", "-"),
		"sink.path", "validation failed")
	wantIn(cli(0, conn, "connectors", "create", "-f", "-"), "connector orders created")
	wantIn(cli(1, conn, "connectors", "create", "-f", "-"), "error (HTTP 409)")

	// The generator stops after 50 events: wait for the task to say so
	// and for its offsets to be committed.
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := cli(0, "", "connectors", "status", "orders")
		offs := cli(0, "", "connectors", "offsets", "orders")
		if strings.Contains(st, "FINISHED") && strings.Count(offs, "\n") > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orders did not finish with offsets:\n%s\n%s", st, offs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantIn(cli(0, "", "connectors", "list"), "orders", "source")
	wantIn(cli(0, "", "connectors", "get", "orders"), "sink.path", out)
	wantIn(cli(0, "", "connectors", "config", "orders", "-o", "json"), `"source.count": "50"`)
	if data, err := os.ReadFile(out); err != nil || strings.Count(string(data), "\n") != 50 {
		t.Errorf("sink file has %d lines (err %v), want 50", strings.Count(string(data), "\n"), err)
	}

	// Offsets only change while STOPPED.
	wantIn(cli(1, "", "connectors", "offsets", "orders", "--reset"), "error (HTTP 400)")
	cli(0, "", "connectors", "stop", "orders")
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(cli(0, "", "connectors", "status", "orders"), "STOPPED") {
		if time.Now().After(deadline) {
			t.Fatal("orders did not stop")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cli(0, "", "connectors", "offsets", "orders", "--reset")
	if got := cli(0, "", "connectors", "offsets", "orders"); strings.TrimSpace(got) != "PARTITION  OFFSET" {
		t.Errorf("offsets after reset:\n%s", got)
	}
	cli(0, "", "connectors", "resume", "orders")
	cli(0, "", "connectors", "delete", "orders")
	wantIn(cli(1, "", "connectors", "get", "orders"), "error (HTTP 404)")
}

// startInProcessWorker runs a real standalone worker (Bolt store in dir,
// every plugin of the binary) behind the real REST handler, and returns
// its URL. Both stop when the test ends.
func startInProcessWorker(t *testing.T, dir string) string {
	t.Helper()
	store, err := state.OpenBolt(filepath.Join(dir, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return startInProcessWorkerWith(t, store, registry())
}

// startInProcessWorkerWith is startInProcessWorker over store and reg.
func startInProcessWorkerWith(t *testing.T, store state.Store, reg ferryworker.Registry) string {
	t.Helper()
	levels := ferryworker.NewLogLevels(slog.LevelInfo)
	quiet := slog.New(levels.Handler(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: ferryworker.LevelTrace})))
	w, err := ferryworker.New(ferryworker.Config{
		WorkerID: "test-worker", Store: store, Registry: reg,
		CommitInterval: 50 * time.Millisecond, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rest.New(rest.Config{Addr: "127.0.0.1:0", Controller: w, Version: "test", Logger: quiet, Loggers: levels})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker Run: %v", err)
		}
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}
