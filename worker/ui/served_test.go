package ui_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
	"github.com/ferryhq/ferry/worker/ui"
)

// TestServedByWorker: the REST server serves the dashboard at /ui/
// without credentials (the files hold no data) while the API behind it
// still demands them, and the browser guard covers the dashboard too.
// Paths that only start like the dashboard's reach nothing else.
func TestServedByWorker(t *testing.T) {
	t.Parallel()
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte(adminToken+" admin\n"+readToken+" read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := worker.New(worker.Config{WorkerID: "ui", Store: state.NewMemory(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rest.New(rest.Config{Addr: "127.0.0.1:8083", Controller: w, Logger: logger,
		Auth: rest.AuthConfig{Mode: rest.AuthToken, TokensFile: tokens}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, target, host, token string
		code                              int
		ctype                             string
	}{
		{"page without credentials", http.MethodGet, "/ui/", "", "", http.StatusOK, "text/html; charset=utf-8"},
		{"page without the slash", http.MethodGet, "/ui", "", "", http.StatusOK, "text/html; charset=utf-8"},
		{"script without credentials", http.MethodGet, "/ui/app.js", "", "", http.StatusOK, "text/javascript; charset=utf-8"},
		{"style sheet", http.MethodGet, "/ui/app.css", "", "", http.StatusOK, "text/css; charset=utf-8"},
		{"unknown file", http.MethodGet, "/ui/nope.js", "", "", http.StatusNotFound, "application/json"},
		{"the API still needs a token", http.MethodGet, "/connectors", "", "", http.StatusUnauthorized, "application/json"},
		{"a read token reads it", http.MethodGet, "/connectors", "", readToken, http.StatusOK, "application/json"},
		{"dot-dot under /ui", http.MethodGet, "/ui/../connectors", "", "", http.StatusNotFound, "application/json"},
		{"escaped slash under /ui", http.MethodGet, "/ui%2F..%2Fconnectors", "", "", http.StatusUnauthorized, "application/json"},
		{"a name that starts like ui", http.MethodGet, "/uiconnectors", "", "", http.StatusUnauthorized, "application/json"},
		{"writes are not public", http.MethodPost, "/ui/", "", "", http.StatusUnauthorized, "application/json"},
		{"foreign Host (DNS rebinding)", http.MethodGet, "/ui/", "attacker.example", "", http.StatusMisdirectedRequest, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, nil)
			req.Host = "127.0.0.1:8083"
			if tc.host != "" {
				req.Host = tc.host
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != tc.ctype {
				t.Errorf("Content-Type %q, want %q", ct, tc.ctype)
			}
			if rec.Code == http.StatusOK && strings.HasPrefix(tc.target, "/ui") {
				if rec.Header().Get("Content-Security-Policy") != ui.ContentSecurityPolicy || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("security headers missing: %v", rec.Header())
				}
			}
		})
	}
}
