package rocketmq_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/state/rocketmq"
)

// TestBrokerRestart restarts the test bed's name server and broker
// (testbed.sh restart rocketmq, ~35 s) under a store that keeps
// committing: writes block and retry while the broker is down, and
// nothing acknowledged before, during or after is lost — the open store
// and a fresh one both hold it. Not parallel, so the package's other
// tests (which pause until sequential tests end) never see the outage;
// other packages' RocketMQ tests running at the same moment would.
func TestBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the broker (~35 s); skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cluster := clusterName(t)
	a := openStore(t, rocketmq.Config{Cluster: cluster, SnapshotEvery: 20, WorkerID: "a"})
	defer a.Close()
	if _, err := a.PutConnector(ctx, state.Connector{Name: "orders", Config: map[string]string{"k": "before"}}); err != nil {
		t.Fatal(err)
	}

	// The writer commits an increasing sequence to one partition; acked is
	// the last value a commit returned nil for.
	var (
		mu     sync.Mutex
		acked  int
		failed []error
	)
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			wctx, wcancel := context.WithTimeout(ctx, 3*time.Minute)
			err := a.CommitOffsets(wctx, "orders", 1, map[string]api.Position{"p": api.Position(fmt.Sprint(i))})
			wcancel()
			mu.Lock()
			if err == nil {
				acked = i
			} else {
				failed = append(failed, err)
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)

	start := time.Now()
	testbed.Run(t, "restart", "rocketmq")
	t.Logf("restart took %s", time.Since(start).Round(time.Millisecond))

	// Writes and reads work again. The bounds are generous: on a loaded
	// 2-core machine the restart alone has taken two minutes.
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	_, err := a.PutConnector(wctx, state.Connector{Name: "orders", Config: map[string]string{"k": "after"}})
	wcancel()
	if err != nil {
		t.Fatalf("put after restart: %v", err)
	}
	t.Logf("first write after the restart done %s after the restart began", time.Since(start).Round(time.Millisecond))
	time.Sleep(200 * time.Millisecond)
	close(stop)
	<-writerDone
	mu.Lock()
	last, errs := acked, failed
	mu.Unlock()
	if len(errs) > 0 {
		t.Errorf("%d commits failed across the restart (they should block and retry): first %v", len(errs), errs[0])
	}
	if last < 2 {
		t.Fatalf("only %d commits acknowledged", last)
	}

	check := func(name string, s *rocketmq.Store) {
		t.Helper()
		offs, err := s.Offsets(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		if got := string(offs["p"]); got != fmt.Sprint(last) {
			t.Errorf("%s: partition p = %q, want the last acknowledged commit %d", name, got, last)
		}
		c, err := s.Connector(ctx, "orders")
		if err != nil || c.Config["k"] != "after" {
			t.Errorf("%s: connector = %+v, %v; want the put after the restart", name, c, err)
		}
	}
	check("open store", a)
	b := openStore(t, rocketmq.Config{Cluster: cluster, SnapshotEvery: -1, WorkerID: "b"})
	defer b.Close()
	check("fresh store", b)
	t.Logf("acknowledged commits: %d; fresh store stats: %+v", last, b.Stats())
}
