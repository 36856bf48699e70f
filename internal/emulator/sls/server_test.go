package sls_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/emulator/sls"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := sls.Config{AccessKeyID: "id", AccessKeySecret: "secret"}
	tests := []struct {
		name    string
		mutate  func(*sls.Config)
		wantErr bool
	}{
		{"minimal", func(*sls.Config) {}, false},
		{"no key id", func(c *sls.Config) { c.AccessKeyID = "" }, true},
		{"no secret", func(c *sls.Config) { c.AccessKeySecret = "" }, true},
		{"negative shards", func(c *sls.Config) { c.ShardCount = -1 }, true},
		{"too many shards", func(c *sls.Config) { c.ShardCount = 1000 }, true},
		{"huge raw size", func(c *sls.Config) { c.MaxRawSize = 1 << 30 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tt.mutate(&cfg)
			_, err := sls.New(cfg)
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, sls.ErrConfig)) {
				t.Fatalf("New err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// TestRunLifecycle: Run serves until its context ends, then the port is
// free again; Close is idempotent and Start after Close fails.
func TestRunLifecycle(t *testing.T) {
	t.Parallel()
	srv, err := sls.New(sls.Config{AccessKeyID: testKeyID, AccessKeySecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	if !strings.HasPrefix(srv.Endpoint(), "http://127.0.0.1:") {
		t.Fatalf("Endpoint = %q", srv.Endpoint())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned GET / = %d, want 401", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port still taken after Run returned: %v", err)
	}
	ln.Close()
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := srv.Start(); !errors.Is(err, sls.ErrClosed) {
		t.Fatalf("Start after Close = %v, want ErrClosed", err)
	}
}

// TestHandlerEmbedding: the bare handler works under httptest with the SDK.
func TestHandlerEmbedding(t *testing.T) {
	t.Parallel()
	srv, err := sls.New(sls.Config{AccessKeyID: testKeyID, AccessKeySecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	hc := sls.NewHTTPClient(strings.TrimPrefix(ts.URL, "http://"))
	t.Cleanup(hc.CloseIdleConnections)

	c := newClientAt(ts.URL, hc)
	if err := c.PutLogs("p", "s", sdkGroup("t", "emb", 2)); err != nil {
		t.Fatal(err)
	}
	shards, err := c.ListShards("p", "s")
	if err != nil || len(shards) != 2 {
		t.Fatalf("ListShards = %v, %v", shards, err)
	}
	groups, err := srv.LogGroups("p", "s", 0)
	if err != nil || len(groups) != 1 || len(groups[0].Logs) != 2 {
		t.Fatalf("LogGroups = %+v, %v", groups, err)
	}
}
