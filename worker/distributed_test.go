package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/client"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/cluster"
	"github.com/ferryhq/ferry/worker/rest"
)

// memCluster is an in-process ClusterStore: one state.Memory shared by
// every worker (replication is trivially instant) plus registers with the
// same compare-and-set rule as state/rocketmq, and wake-ups on every
// config change.
type memCluster struct {
	state.Store
	mu   sync.Mutex
	regs map[string]reg
	next int64
	subs map[chan struct{}]struct{}
}

type reg struct {
	v   []byte
	ver int64
}

func newMemCluster() *memCluster {
	return &memCluster{Store: state.NewMemory(), regs: map[string]reg{}, subs: map[chan struct{}]struct{}{}}
}

func (m *memCluster) notify() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for ch := range m.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (m *memCluster) PutConnector(ctx context.Context, c state.Connector) (state.Connector, error) {
	out, err := m.Store.PutConnector(ctx, c)
	m.notify()
	return out, err
}

func (m *memCluster) DeleteConnector(ctx context.Context, name string) error {
	err := m.Store.DeleteConnector(ctx, name)
	m.notify()
	return err
}

// FenceRun does nothing: state.Memory does not know which worker
// committed a partition, so in process the generation fence alone
// guards offsets (replication is instant, so a cut-off worker's commit
// lands only before the new owner's first).
func (m *memCluster) FenceRun(context.Context, string, string, int64) error { return nil }

func (m *memCluster) PutRegister(_ context.Context, key string, expect int64, value []byte) (int64, error) {
	m.mu.Lock()
	cur := m.regs[key]
	if cur.ver != expect {
		m.mu.Unlock()
		return cur.ver, fmt.Errorf("register %q: %w", key, worker.ErrRegisterConflict)
	}
	m.next++
	m.regs[key] = reg{v: append([]byte{}, value...), ver: m.next}
	v := m.next
	m.mu.Unlock()
	m.notify()
	return v, nil
}

func (m *memCluster) Register(_ context.Context, key string) ([]byte, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.regs[key]
	return append([]byte(nil), r.v...), r.ver, nil
}

func (m *memCluster) RegisterKeys(_ context.Context, prefix string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.regs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out, nil
}

func (m *memCluster) Watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	m.mu.Lock()
	m.subs[ch] = struct{}{}
	m.mu.Unlock()
	return ch, func() {
		m.mu.Lock()
		delete(m.subs, ch)
		m.mu.Unlock()
	}
}

func loopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// node is one in-process cluster worker with its REST server.
type node struct {
	id     string
	url    string
	w      *worker.Distributed
	faults *cluster.Faults
	stop   func()
	// crash stops the REST server and closes the membership without
	// leaving: to the others the worker looks killed.
	crash func()
	// levels are the node's log levels, as /admin/loggers shows them.
	levels *worker.LogLevels
}

func startNodeReg(t *testing.T, st *memCluster, reg worker.Registry, seeds []string, gossip string) *node {
	t.Helper()
	return startNodeWith(t, st, reg, seeds, gossip, nil)
}

// startNodeWith starts a node whose config tune may change first.
func startNodeWith(t *testing.T, st *memCluster, reg worker.Registry, seeds []string, gossip string, tune func(*worker.DistributedConfig)) *node {
	t.Helper()
	restAddr := loopbackAddr(t)
	id := "w-" + restAddr
	faults := &cluster.Faults{}
	logger := slog.New(slog.NewTextHandler(testLogOut, nil)).With("node", restAddr)
	mem, err := cluster.NewMembership(cluster.MembershipConfig{
		Name: id, BindAddr: "127.0.0.1", BindPort: portOf(t, gossip), Seeds: seeds, Label: "test",
		Meta: cluster.Meta{WorkerID: id, RESTURL: "http://" + restAddr}, Faults: faults, Logger: logger,
		RejoinInterval: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := worker.DistributedConfig{
		Config: worker.Config{
			WorkerID: id, Store: st, Registry: reg, Logger: logger,
			Restart: worker.RestartPolicy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		},
		Cluster: st, Membership: mem, Grace: 0, DrainTimeout: 10 * time.Second,
		Peer: peers(nil, id), Loggers: worker.NewLogLevels(slog.LevelInfo),
	}
	if tune != nil {
		tune(&cfg)
	}
	w, err := worker.NewDistributed(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rest.New(rest.Config{Addr: restAddr, Controller: w, Logger: logger, Loggers: cfg.Loggers})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srvCtx, srvCancel := context.WithCancel(ctx)
	srvDone := make(chan struct{})
	done := make(chan struct{})
	var crashed atomic.Bool
	go func() {
		defer close(done)
		go func() {
			defer close(srvDone)
			_ = srv.Run(srvCtx)
		}()
		if err := w.Run(ctx); err != nil && !crashed.Load() {
			t.Errorf("Run: %v", err)
		}
		<-srvDone
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Error("worker did not stop")
			}
		})
	}
	t.Cleanup(stop)
	<-srv.Ready()
	crash := func() {
		crashed.Store(true)
		srvCancel()
		<-srvDone
		_ = mem.Close()
	}
	return &node{id: id, url: "http://" + restAddr, w: w, faults: faults, stop: stop, crash: crash, levels: cfg.Loggers}
}

// startCluster starts n nodes over one in-memory store, the first the
// others' seed (and so the leader: it started first); tune, when set,
// changes node i's config.
func startCluster(t *testing.T, n int, tune func(i int, c *worker.DistributedConfig)) []*node {
	t.Helper()
	st := newMemCluster()
	fakes := newHerdFakes()
	g0 := freeGossip(t)
	var nodes []*node
	for i := range n {
		var seeds []string
		gossip := g0
		if i > 0 {
			seeds, gossip = []string{g0}, freeGossip(t)
		}
		nodes = append(nodes, startNodeWith(t, st, fakes.registry(), seeds, gossip, func(c *worker.DistributedConfig) {
			if tune != nil {
				tune(i, c)
			}
		}))
	}
	return nodes
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(p, &n)
	return n
}

// freeUDPTCP returns a loopback port free for TCP (gossip also uses UDP;
// a clash there makes NewMembership fail loudly, not silently).
func freeGossip(t *testing.T) string { return loopbackAddr(t) }

// owners maps each running task to the workers that report it RUNNING.
func owners(t *testing.T, w *worker.Distributed, conns []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, c := range conns {
		st, err := w.ConnectorStatus(context.Background(), c)
		if err != nil {
			continue
		}
		for _, tk := range st.Tasks {
			if tk.State == "RUNNING" {
				out[fmt.Sprintf("%s/%d", c, tk.ID)] = append(out[fmt.Sprintf("%s/%d", c, tk.ID)], tk.WorkerID)
			}
		}
	}
	return out
}

func perWorker(own map[string][]string) map[string]int {
	n := map[string]int{}
	for _, ws := range own {
		for _, w := range ws {
			n[w]++
		}
	}
	return n
}

func balanced(n map[string]int, workers []string) bool {
	lo, hi := 1<<30, -1
	for _, w := range workers {
		lo, hi = min(lo, n[w]), max(hi, n[w])
	}
	return hi-lo <= 1
}

// TestDistributedInProcess runs three cluster workers in one process over
// a shared in-memory store and real gossip on loopback: connectors
// created through different workers (followers forward to the leader)
// run every task exactly once, balanced; a worker cut off the network
// loses its tasks to the others; a draining worker hands its tasks over.
func TestDistributedInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("gossip on loopback takes seconds")
	}
	t.Parallel()
	nodes := startCluster(t, 3, nil)
	ids := []string{nodes[0].id, nodes[1].id, nodes[2].id}
	eventually(t, "three members", func() bool {
		info, err := nodes[2].w.ClusterStatus(context.Background())
		return err == nil && len(info.Members) == 3 && info.Leader != ""
	})

	var conns []string
	for i := range 4 {
		name := fmt.Sprintf("c%d", i)
		conns = append(conns, name)
		// planned gives each task its own partition (part-0, part-1):
		// tasks sharing one would fence each other when one moves.
		cfg := with(baseConfig(name), "source", "planned", "tasks.max", "3")
		body, _ := json.Marshal(map[string]any{"name": name, "config": cfg})
		resp, err := http.Post(nodes[i%3].url+"/connectors", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s through %s: %d %s", name, nodes[i%3].id, resp.StatusCode, b)
		}
	}
	// A duplicate through a follower answers as the leader would: 409.
	body, _ := json.Marshal(map[string]any{"name": "c0", "config": baseConfig("c0")})
	for _, n := range nodes {
		resp, err := http.Post(n.url+"/connectors", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict {
			t.Errorf("duplicate create through %s: %d, want 409", n.id, resp.StatusCode)
		}
	}

	eventually(t, "8 tasks running once each, balanced", func() bool {
		own := owners(t, nodes[1].w, conns)
		if len(own) != 8 {
			return false
		}
		for _, ws := range own {
			if len(ws) != 1 {
				return false
			}
		}
		return balanced(perWorker(own), ids)
	})

	// Pause and resume through every worker (followers forward): the
	// owners hold, then run, the tasks again.
	for _, n := range nodes {
		ctx := context.Background()
		if err := n.w.SetTargetState(ctx, "c1", state.TargetPaused); err != nil {
			t.Fatalf("pause through %s: %v", n.id, err)
		}
		eventually(t, "c1 paused", func() bool {
			st, err := nodes[0].w.ConnectorStatus(ctx, "c1")
			return err == nil && st.Connector.State == "PAUSED" && len(st.Tasks) == 2 &&
				st.Tasks[0].State == "PAUSED" && st.Tasks[1].State == "PAUSED"
		})
		if err := n.w.SetTargetState(ctx, "c1", state.TargetRunning); err != nil {
			t.Fatalf("resume through %s: %v", n.id, err)
		}
		eventually(t, "c1 running", func() bool {
			return len(owners(t, nodes[0].w, []string{"c1"})) == 2
		})
	}
	// A config change through a follower is planned once by the leader;
	// an unknown connector is 404 through any worker.
	if _, err := nodes[2].w.PatchConnectorConfig(context.Background(), "c2", map[string]*string{"tasks.max": ptr("1")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "c2 with one task", func() bool {
		tasks, err := nodes[1].w.TaskConfigs(context.Background(), "c2")
		return err == nil && len(tasks) == 1 && len(owners(t, nodes[1].w, []string{"c2"})) == 1
	})
	for _, n := range nodes {
		if err := n.w.DeleteConnector(context.Background(), "nope"); !errors.Is(err, worker.ErrNotFound) {
			t.Errorf("delete unknown through %s: %v, want ErrNotFound", n.id, err)
		}
		if err := n.w.RestartTask(context.Background(), "c0", 0); err != nil {
			t.Errorf("restart task through %s: %v", n.id, err)
		}
	}
	if _, err := nodes[2].w.PatchConnectorConfig(context.Background(), "c2", map[string]*string{"tasks.max": ptr("3")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "8 tasks running again, balanced", func() bool {
		own := owners(t, nodes[1].w, conns)
		return len(own) == 8 && balanced(perWorker(own), ids)
	})

	if n := len(nodes[0].w.TaskMetrics()) + len(nodes[1].w.TaskMetrics()) + len(nodes[2].w.TaskMetrics()); n != 8 {
		t.Errorf("the workers report metrics of %d tasks, want 8", n)
	}

	// Cut the third worker off gossip: the others declare it dead and
	// take its tasks (grace 0).
	cut := nodes[2]
	cut.faults.Cut()
	start := time.Now()
	eventually(t, "tasks of the cut worker moved", func() bool {
		info, err := nodes[0].w.ClusterStatus(context.Background())
		if err != nil || len(info.Assignments[cut.id]) != 0 {
			return false
		}
		own := owners(t, nodes[0].w, conns)
		if len(own) != 8 {
			return false
		}
		for _, ws := range own {
			if len(ws) != 1 || ws[0] == cut.id {
				return false
			}
		}
		return balanced(perWorker(own), ids[:2])
	})
	t.Logf("tasks moved off the cut worker in %v", time.Since(start))
	cut.stop()

	// Drain the first worker: its tasks move before it leaves.
	nodes[0].stop()
	eventually(t, "all tasks on the last worker", func() bool {
		own := owners(t, nodes[1].w, conns)
		return len(own) == 8 && perWorker(own)[nodes[1].id] == 8
	})
	if _, err := nodes[1].w.ConnectorInfo(context.Background(), "c3"); err != nil {
		t.Fatal(err)
	}
	// Delete through the last worker (now the leader).
	if err := nodes[1].w.DeleteConnector(context.Background(), "c3"); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].w.ConnectorInfo(context.Background(), "c3"); !errors.Is(err, worker.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

// testLogOut receives the in-process workers' logs; os.Stderr when debugging.
var testLogOut io.Writer = io.Discard

func ptr(s string) *string { return &s }

// peers is DistributedConfig.Peer as the binary wires it: the typed REST
// client, over h (a default client when nil).
func peers(h *http.Client, self string) func(string) (worker.Controller, error) {
	return func(url string) (worker.Controller, error) {
		var opts []client.Option
		if h != nil {
			opts = append(opts, client.WithHTTPClient(h))
		}
		return client.NewPeer(url, self, opts...)
	}
}
