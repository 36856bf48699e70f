package rest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/worker/rest"
)

// TestBrowserGuard feeds the REST API the requests a hostile web page can
// make a browser send: cross-site "simple" POSTs (text/plain, forms),
// requests after DNS rebinding (a foreign Host), and cross-origin calls.
// None may reach the controller; the same requests from a CLI, a
// same-origin page or an allowed origin do.
func TestBrowserGuard(t *testing.T) {
	t.Parallel()
	const create = `{"name":"x","config":{"source":"generator","sink":"file","sink.path":"/tmp/x"}}`
	cases := []struct {
		name    string
		method  string
		path    string
		host    string
		headers map[string]string
		body    string
		want    int
		created bool // the connector "x" exists afterwards
	}{
		{name: "json from the CLI", method: "POST", path: "/connectors", headers: map[string]string{"Content-Type": "application/json"}, body: create, want: 201, created: true},
		{name: "json with charset", method: "POST", path: "/connectors", headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, body: create, want: 201, created: true},
		{name: "text/plain POST", method: "POST", path: "/connectors", headers: map[string]string{"Content-Type": "text/plain"}, body: create, want: 415},
		{name: "form POST", method: "POST", path: "/connectors", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: create, want: 415},
		{name: "multipart POST", method: "POST", path: "/connectors", headers: map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, body: create, want: 415},
		{name: "no content type", method: "POST", path: "/connectors", body: create, want: 415},
		{name: "text/plain flat create", method: "POST", path: "/connectors/x", headers: map[string]string{"Content-Type": "text/plain"}, body: `{"source":"generator","sink":"file","sink.path":"/tmp/x"}`, want: 415},
		{name: "text/plain empty restart", method: "POST", path: "/connectors/x/restart", headers: map[string]string{"Content-Type": "text/plain"}, want: 415},
		{name: "bodiless pause", method: "PUT", path: "/connectors/missing/pause", want: 404},
		{name: "rebound host", method: "POST", path: "/connectors", host: "attacker.example:8083", headers: map[string]string{"Content-Type": "application/json"}, body: create, want: 421},
		{name: "rebound host read", method: "GET", path: "/connectors", host: "attacker.example", want: 421},
		{name: "empty host", method: "GET", path: "/connectors", host: "", want: 421},
		{name: "localhost", method: "GET", path: "/connectors", host: "localhost:8083", want: 200},
		{name: "sub.localhost", method: "GET", path: "/connectors", host: "app.localhost:8083", want: 200},
		{name: "ipv6 literal", method: "GET", path: "/connectors", host: "[::1]:8083", want: 200},
		{name: "other ip literal", method: "GET", path: "/connectors", host: "10.1.2.3:8083", want: 200},
		{name: "configured host", method: "GET", path: "/connectors", host: "ferry.internal:8083", want: 200},
		{name: "foreign origin write", method: "POST", path: "/connectors", headers: map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, body: create, want: 403},
		{name: "foreign origin read", method: "GET", path: "/connectors", headers: map[string]string{"Origin": "http://evil.example"}, want: 403},
		{name: "null origin", method: "POST", path: "/connectors", headers: map[string]string{"Content-Type": "application/json", "Origin": "null"}, body: create, want: 403},
		{name: "same origin", method: "POST", path: "/connectors", headers: map[string]string{"Content-Type": "application/json", "Origin": "http://127.0.0.1:8083"}, body: create, want: 201, created: true},
		{name: "allowed origin", method: "POST", path: "/connectors", headers: map[string]string{"Content-Type": "application/json", "Origin": "https://console.example"}, body: create, want: 201, created: true},
		{name: "allowed origin preflight", method: "OPTIONS", path: "/connectors", headers: map[string]string{"Origin": "https://console.example", "Access-Control-Request-Method": "POST"}, want: 204},
		{name: "foreign preflight", method: "OPTIONS", path: "/connectors", headers: map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, want: 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := newRestFake()
			s, err := rest.New(rest.Config{
				Addr: "127.0.0.1:8083", Controller: fake,
				Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
				AllowedHosts:   []string{"ferry.internal"},
				AllowedOrigins: []string{"https://console.example"},
			})
			if err != nil {
				t.Fatal(err)
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req := httptest.NewRequest(tc.method, tc.path, body)
			req.Host = "127.0.0.1:8083"
			if tc.host != "" || strings.HasPrefix(tc.name, "empty host") {
				req.Host = tc.host
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.want, rec.Body)
			}
			if rec.Code >= 400 && !strings.Contains(rec.Body.String(), `"error_code"`) {
				t.Errorf("error answer is not Ferry's JSON error: %s", rec.Body)
			}
			if _, err := fake.ConnectorInfo(context.Background(), "x"); (err == nil) != tc.created {
				t.Errorf("connector created = %v, want %v", err == nil, tc.created)
			}
			if origin := tc.headers["Origin"]; origin == "https://console.example" {
				if got := rec.Header().Get("Access-Control-Allow-Origin"); got != origin {
					t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, origin)
				}
			} else if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("Access-Control-Allow-Origin = %q for a non-allowed origin", got)
			}
		})
	}
}

// TestSlowBodyIsCut checks that the REST listener does not wait forever
// for a body that trickles in (slowloris): after ReadTimeout the
// connection is closed.
func TestSlowBodyIsCut(t *testing.T) {
	t.Parallel()
	s, err := rest.New(rest.Config{
		Addr: "127.0.0.1:0", Controller: newRestFake(),
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		ReadTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-s.Ready()

	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /connectors HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	start := time.Now()
	buf := make([]byte, 512)
	for time.Since(start) < 5*time.Second {
		_, _ = conn.Write([]byte(" ")) // one byte at a time, never finishing
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := conn.Read(buf); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("connection cut after %v, want about the read timeout", took)
			}
			return // closed (EOF or reset), or answered and closed
		}
	}
	t.Fatal("a trickling body kept the connection open for 5s")
}
