package worker_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
)

// idleSource never produces a record: the scale test measures the
// cluster's bookkeeping, not the data path.
type idleSource struct{}

func (idleSource) Open(context.Context) error { return nil }
func (idleSource) Read(ctx context.Context) ([]api.Record, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (idleSource) Close(context.Context) error { return nil }

// TestDistributedScale is issue 5's scale case on the whole cluster
// worker: 1,000 connectors × 3 tasks on 5 in-process workers over the
// in-memory store and real gossip on loopback. It reports how long the
// tasks take to run everywhere, and what a sixth worker joining and a
// worker draining move against the least possible. It starts 3,000
// tasks, so it only runs with FERRY_CLUSTER_SCALE=1.
func TestDistributedScale(t *testing.T) {
	if os.Getenv("FERRY_CLUSTER_SCALE") == "" {
		t.Skip("set FERRY_CLUSTER_SCALE=1 to run the 1,000 × 3 cluster worker scale test")
	}
	const nConns, nTasks = 1000, 3
	st := newMemCluster()
	fakes := newHerdFakes()
	reg := fakes.registry()
	reg.Sources = append(reg.Sources, api.SourcePlugin{
		Name: "idle",
		New:  func(api.TaskConfig) (api.Source, error) { return idleSource{}, nil },
	})
	g0 := freeGossip(t)
	nodes := []*node{startNodeReg(t, st, reg, nil, g0)}
	for range 4 {
		nodes = append(nodes, startNodeReg(t, st, reg, []string{g0}, freeGossip(t)))
	}
	eventually(t, "five members", func() bool {
		info, err := nodes[4].w.ClusterStatus(context.Background())
		return err == nil && len(info.Members) == 5
	})
	var conns []string
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, nConns)
	for i := range nConns {
		name := fmt.Sprintf("c%04d", i)
		conns = append(conns, name)
		wg.Go(func() {
			cfg := with(baseConfig(name), "source", "idle", "tasks.max", fmt.Sprint(nTasks))
			if _, err := nodes[i%5].w.CreateConnector(context.Background(), name, cfg, ""); err != nil {
				errs <- fmt.Errorf("create %s: %w", name, err)
			}
		})
		if i%50 == 49 {
			wg.Wait() // bounded fan-out: 50 creates in flight
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	created := time.Since(start)
	waitAll := func(what string, n int) (map[string][]string, time.Duration) {
		t0 := time.Now()
		deadline := t0.Add(5 * time.Minute)
		for {
			own := owners(t, nodes[0].w, conns)
			ok := len(own) == nConns*nTasks
			for _, ws := range own {
				ok = ok && len(ws) == 1
			}
			ids := []string{}
			for _, nd := range nodes[:n] {
				ids = append(ids, nd.id)
			}
			if ok && balanced(perWorker(own), ids) {
				return own, time.Since(t0)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: timed out; %d tasks running", what, len(own))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	own, took := waitAll("initial", 5)
	t.Logf("created %d connectors in %v; all %d tasks running once, balanced, %v later; distribution %v",
		nConns, created, len(own), took, perWorker(own))

	nodes = append(nodes, startNodeReg(t, st, reg, []string{g0}, freeGossip(t)))
	after, took := waitAll("join", 6)
	moved := 0
	for k, ws := range after {
		if ws[0] != own[k][0] {
			moved++
		}
	}
	t.Logf("join of a 6th worker: balanced in %v, %d tasks moved (least possible %d); distribution %v",
		took, moved, nConns*nTasks/6, perWorker(after))
	if moved != nConns*nTasks/6 {
		t.Errorf("join moved %d tasks, want %d", moved, nConns*nTasks/6)
	}

	leaving := nodes[2]
	nodes = append(nodes[:2:2], nodes[3:]...)
	t0 := time.Now()
	leaving.stop()
	final, took := waitAll("drain", 5)
	moved = 0
	for k, ws := range final {
		if ws[0] != after[k][0] {
			moved++
		}
	}
	t.Logf("drain of a worker: stopped after %v, balanced %v later, %d tasks moved (least possible %d); distribution %v",
		time.Since(t0)-took, took, moved, perWorker(after)[leaving.id], perWorker(final))
	if moved != perWorker(after)[leaving.id] {
		t.Errorf("drain moved %d tasks, want %d", moved, perWorker(after)[leaving.id])
	}
}
