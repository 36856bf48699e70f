package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/cluster"
	"github.com/ferryhq/ferry/worker/rest"
)

// TestWriteWithoutLeader: a write that finds no leader within LeaderWait
// fails with ErrNoLeader, which REST answers 503 with Retry-After (not
// 409: nothing conflicts, the client should retry).
func TestWriteWithoutLeader(t *testing.T) {
	t.Parallel()
	st := newMemCluster()
	id := "w-alone"
	restAddr := loopbackAddr(t)
	mem, err := cluster.NewMembership(cluster.MembershipConfig{
		Name: id, BindAddr: "127.0.0.1", Label: "alone", Logger: slog.New(slog.DiscardHandler),
		Meta: cluster.Meta{WorkerID: id, RESTURL: "http://" + restAddr},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	cfg := worker.DistributedConfig{
		Config:  worker.Config{WorkerID: id, Store: st, Registry: newHerdFakes().registry(), Logger: slog.New(slog.DiscardHandler)},
		Cluster: st, Membership: mem, LeaderWait: 200 * time.Millisecond,
	}
	w, err := worker.NewDistributed(cfg) // never Run: its membership never shows a leader
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = w.CreateConnector(context.Background(), "c", baseConfig("c"), "")
	if !errors.Is(err, worker.ErrNoLeader) {
		t.Fatalf("create without a leader: %v, want ErrNoLeader", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 5*time.Second {
		t.Errorf("gave up after %v, want about the 200ms leader wait", took)
	}

	srv, err := rest.New(rest.Config{Addr: restAddr, Controller: w, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srvDone := make(chan struct{})
	go func() { defer close(srvDone); _ = srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-srvDone })
	<-srv.Ready()
	code, body := postConnector(t, "http://"+restAddr, "c", baseConfig("c"))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no reachable cluster leader") {
		t.Errorf("REST create without a leader: %d %s, want 503 naming the missing leader", code, body)
	}
	req, _ := http.NewRequest(http.MethodPut, "http://"+restAddr+"/connectors/c/pause", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("pause without a leader: %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// The wait is bounded both ways.
	for _, bad := range []time.Duration{-time.Second, worker.MaxLeaderWait + time.Second, 1 << 62} {
		c := cfg
		c.LeaderWait = bad
		if _, err := worker.NewDistributed(c); err == nil {
			t.Errorf("LeaderWait %v accepted", bad)
		}
	}
}
