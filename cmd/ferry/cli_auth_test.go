package main

import (
	"encoding/pem"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/client"
	"github.com/ferryhq/ferry/state"
	ferryworker "github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
)

// TestCLIWithTokenOverTLS drives the CLI against a worker that serves
// HTTPS and wants a bearer token: --token, --ca-cert and --insecure.
func TestCLIWithTokenOverTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const token = "cli-test-token-0123456789"
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(token+" read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := ferryworker.New(ferryworker.Config{WorkerID: "w", Store: state.NewMemory(), Registry: registry(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rest.New(rest.Config{Addr: "127.0.0.1:0", Controller: w, Logger: quiet,
		Auth: rest.AuthConfig{Mode: rest.AuthToken, TokensFile: tokens}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(hs.Close)
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"token and CA", []string{"--token", token, "--ca-cert", ca, "plugins", "list"}, 0, "generator"},
		{"token, insecure", []string{"--token", token, "--insecure", "plugins", "list"}, 0, "generator"},
		{"no token", []string{"--ca-cert", ca, "plugins", "list"}, 1, "HTTP 401"},
		{"read token may not write", []string{"--token", token, "--ca-cert", ca, "connectors", "delete", "x"}, 1, "HTTP 403"},
		{"unknown CA", []string{"--token", token, "plugins", "list"}, 1, "certificate"},
		{"token and user", []string{"--token", token, "--user", "a:b", "plugins", "list"}, 1, "not both"},
	} {
		stdout, stderr, code := runCLI(t, hs.URL, "", tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q\n%s%s", tc.name, code, tc.code, tc.want, stdout, stderr)
		}
	}
}

// TestRESTFlags: the REST security flags are checked before anything
// starts, each error naming its flag.
func TestRESTFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		o    restOptions
		want string
	}{
		{"tiny body limit", restOptions{maxBodyBytes: 10}, "--rest-max-body-bytes"},
		{"huge body limit", restOptions{maxBodyBytes: 1 << 40}, "--rest-max-body-bytes"},
		{"client CA without a certificate", restOptions{tlsClientCA: "/ca.pem"}, "--rest-tls-client-ca needs"},
		{"fine", restOptions{maxBodyBytes: 1 << 20, auth: "TOKEN", tokensFile: "/t"}, ""},
	} {
		cfg, err := tc.o.serverConfig(rest.Config{})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		case tc.want == "" && cfg.Auth.Mode != rest.AuthToken:
			t.Errorf("%s: mode %q", tc.name, cfg.Auth.Mode)
		}
	}
	if _, err := (restOptions{tlsPeerCA: "/nonexistent/ca.pem"}).peerClient(); err == nil || !strings.Contains(err.Error(), "--rest-tls-peer-ca") {
		t.Errorf("peer CA: %v", err)
	}
}

// TestRetryingTasksAreNotCountedRunning: the CLI's summary and status
// table show a retrying task as such.
func TestRetryingTasksAreNotCountedRunning(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 12, 6, 15, 4, 5, 0, time.UTC)
	tasks := []client.TaskStateInfo{
		{ID: 0, State: "RUNNING"},
		{ID: 1, State: "RUNNING", Health: "retrying", Since: &since, Trace: "retrying write since …: connection refused"},
		{ID: 2, State: "FAILED"},
	}
	if got := taskSummary(tasks); got != "1/3 running, 1 retrying, 1 failed" {
		t.Errorf("summary %q", got)
	}
	if got := taskState(tasks[1]); got != "RUNNING (retrying since 2026-12-06T15:04:05Z)" {
		t.Errorf("state column %q", got)
	}
}
