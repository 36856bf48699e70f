package cluster_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ferryhq/ferry/worker/cluster"
)

func TestMain(m *testing.M) {
	// memberlist's Shutdown does not wait for a probe already in flight;
	// that goroutine ends by itself after the probe timeout. Everything
	// Membership starts is still checked.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/hashicorp/memberlist.(*Memberlist).probeNode"))
}

var labelSeq atomic.Int64

// testCluster runs members in this process on 127.0.0.1 with a label of
// their own, so parallel tests never merge.
type testCluster struct {
	t     *testing.T
	label string
	key   []byte
	seeds []string
	mu    sync.Mutex
	nodes map[string]*testNode
}

type testNode struct {
	*cluster.Membership
	faults *cluster.Faults
	cancel context.CancelFunc
	errc   chan error
}

func newTestCluster(t *testing.T) *testCluster {
	return &testCluster{
		t:     t,
		label: fmt.Sprintf("ferry-test-%d-%d", os.Getpid(), labelSeq.Add(1)),
		nodes: map[string]*testNode{},
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() && os.Getenv("CLUSTER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// config is a member's config with fast re-joins for the tests.
func (c *testCluster) config(name string) cluster.MembershipConfig {
	return cluster.MembershipConfig{
		Name:           name,
		BindAddr:       "127.0.0.1",
		Seeds:          slices.Clone(c.seeds),
		Label:          c.label,
		SecretKey:      c.key,
		Logger:         testLogger(c.t),
		RejoinInterval: 500 * time.Millisecond,
		Meta: cluster.Meta{
			RESTURL:   "http://127.0.0.1:8083/" + name,
			Version:   "test",
			StartTime: time.Now(),
		},
	}
}

// start runs a member; the first one becomes every later member's seed.
func (c *testCluster) start(cfg cluster.MembershipConfig) *testNode {
	c.t.Helper()
	m, err := cluster.NewMembership(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &testNode{Membership: m, faults: cfg.Faults, cancel: cancel, errc: make(chan error, 1)}
	go func() { n.errc <- m.Run(ctx) }()
	c.t.Cleanup(func() {
		_ = m.Close()
		cancel()
		select {
		case err := <-n.errc:
			if err != nil {
				c.t.Errorf("%s: Run: %v", cfg.Name, err)
			}
		case <-time.After(10 * time.Second):
			c.t.Errorf("%s: Run did not return after Close", cfg.Name)
		}
	})
	c.mu.Lock()
	if len(c.seeds) == 0 {
		c.seeds = []string{m.Addr()}
	}
	c.nodes[cfg.Name] = n
	c.mu.Unlock()
	return n
}

func (c *testCluster) startN(names ...string) []*testNode {
	var out []*testNode
	for _, name := range names {
		out = append(out, c.start(c.config(name)))
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not within %v: %s", within, what)
	return 0
}

func stateOf(m *cluster.Membership, name string) (cluster.Member, bool) {
	for _, mb := range m.Members() {
		if mb.Name == name {
			return mb, true
		}
	}
	return cluster.Member{}, false
}

// sees reports whether m sees every named member in state s.
func sees(m *cluster.Membership, s cluster.MemberState, names ...string) bool {
	for _, n := range names {
		mb, ok := stateOf(m, n)
		if !ok || mb.State != s {
			return false
		}
	}
	return true
}

func allSee(nodes []*testNode, s cluster.MemberState, names ...string) func() bool {
	return func() bool {
		for _, n := range nodes {
			if !sees(n.Membership, s, names...) {
				return false
			}
		}
		return true
	}
}

func TestMembershipJoin(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	nodes := c.startN("a", "b", "c")
	eventually(t, 10*time.Second, "all see a, b, c alive", allSee(nodes, cluster.StateAlive, "a", "b", "c"))

	for _, n := range nodes {
		for _, mb := range n.Members() {
			if mb.Meta.WorkerID != mb.Name || mb.Meta.RESTURL != "http://127.0.0.1:8083/"+mb.Name || mb.Meta.Version != "test" {
				t.Errorf("meta of %s: %+v", mb.Name, mb.Meta)
			}
			if mb.Local != (mb.Addr == n.Addr()) {
				t.Errorf("%s: Local=%v for %s at %s", n.Addr(), mb.Local, mb.Name, mb.Addr)
			}
			if !strings.HasPrefix(mb.Addr, "127.0.0.1:") {
				t.Errorf("advertised address %q, want the bind address", mb.Addr)
			}
		}
	}
	// Everybody computes the same leader: the oldest, a.
	for _, n := range nodes {
		if l, _ := cluster.Leader(cluster.LiveWorkers(n.Members())); l != "a" {
			t.Errorf("leader %q, want a", l)
		}
	}
	select {
	case <-nodes[0].Changes():
	case <-time.After(5 * time.Second):
		t.Error("no change signalled after joins")
	}
}

// TestMembershipHealthScore: memberlist's awareness score is -1 before
// Run and 0 for a worker that keeps up with the gossip.
func TestMembershipHealthScore(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	idle, err := cluster.NewMembership(c.config("idle"))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if got := idle.HealthScore(); got != -1 {
		t.Errorf("health score before Run = %d, want -1", got)
	}
	nodes := c.startN("a", "b")
	eventually(t, 10*time.Second, "a and b see each other", allSee(nodes, cluster.StateAlive, "a", "b"))
	for _, n := range nodes {
		if got := n.HealthScore(); got != 0 {
			t.Errorf("health score of a healthy member = %d, want 0", got)
		}
	}
}

func TestMembershipLeave(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	nodes := c.startN("a", "b", "c")
	eventually(t, 10*time.Second, "all alive", allSee(nodes, cluster.StateAlive, "a", "b", "c"))

	start := time.Now()
	if err := nodes[2].Leave(2 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	took := eventually(t, 5*time.Second, "a and b see c left", allSee(nodes[:2], cluster.StateLeft, "c"))
	t.Logf("graceful leave seen by all in %v (Leave returned after %v)", took, time.Since(start)-took)

	live := cluster.LiveWorkers(nodes[0].Members())
	if len(live) != 2 {
		t.Errorf("live workers %v, want a and b", live)
	}
	deps := cluster.Departures(nodes[0].Members())
	if len(deps) != 1 || deps[0].Worker != "c" || !deps[0].Graceful {
		t.Errorf("departures %+v, want c graceful", deps)
	}
	if err := nodes[2].Leave(time.Second); !errors.Is(err, cluster.ErrClosed) {
		t.Errorf("second Leave: %v, want ErrClosed", err)
	}
	select {
	case err := <-nodes[2].errc:
		if err != nil {
			t.Errorf("Run after Leave: %v", err)
		}
		nodes[2].errc <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Error("Run did not return after Leave")
	}
}

// TestMembershipKilledMemberDeclaredDead measures failure detection: a
// member that stops without leaving must be declared dead by the others
// within 5 s (the defaults aim at 2–3 s).
func TestMembershipKilledMemberDeclaredDead(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	nodes := c.startN("a", "b", "c")
	eventually(t, 10*time.Second, "all alive", allSee(nodes, cluster.StateAlive, "a", "b", "c"))
	time.Sleep(500 * time.Millisecond) // let probing settle into its rhythm

	var suspected atomic.Bool
	stopWatch := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(5 * time.Millisecond):
			}
			for _, n := range nodes[:2] {
				if sees(n.Membership, cluster.StateSuspect, "c") {
					suspected.Store(true)
				}
			}
		}
	}()

	start := time.Now()
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a and b see c dead", allSee(nodes[:2], cluster.StateDead, "c"))
	took := time.Since(start)
	close(stopWatch)
	wg.Wait()
	t.Logf("killed member declared dead by both survivors in %v (suspect state observed: %v)", took, suspected.Load())
	if took > 5*time.Second {
		t.Errorf("dead after %v, want < 5s", took)
	}
	deps := cluster.Departures(nodes[0].Members())
	if len(deps) != 1 || deps[0].Graceful {
		t.Errorf("departures %+v, want c not graceful", deps)
	}
}

func TestMembershipDrainingPropagates(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	nodes := c.startN("a", "b")
	eventually(t, 10*time.Second, "all alive", allSee(nodes, cluster.StateAlive, "a", "b"))
	<-nodes[1].Changes() // drain the joins' signal

	if err := nodes[0].SetDraining(true, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 5*time.Second, "b sees a draining", func() bool {
		mb, _ := stateOf(nodes[1].Membership, "a")
		return mb.Meta.Draining && mb.State == cluster.StateAlive
	})
	t.Logf("draining flag seen in %v", took)
	select {
	case <-nodes[1].Changes():
	case <-time.After(5 * time.Second):
		t.Error("no change signalled for the draining flag")
	}
	// A draining worker is no longer the leader.
	if l, _ := cluster.Leader(cluster.LiveWorkers(nodes[1].Members())); l != "b" {
		t.Errorf("leader %q, want b while a drains", l)
	}
	if err := nodes[0].SetDraining(false, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "b sees a not draining", func() bool {
		mb, _ := stateOf(nodes[1].Membership, "a")
		return !mb.Meta.Draining
	})
}

func TestMembershipEncryption(t *testing.T) {
	t.Parallel()
	key := func() []byte {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		return k
	}
	c := newTestCluster(t)
	c.key = key()
	nodes := c.startN("a", "b")
	eventually(t, 10*time.Second, "a and b with the same key merge", allSee(nodes, cluster.StateAlive, "a", "b"))

	other := c.config("x")
	other.SecretKey = key()
	x := c.start(other)
	plain := c.config("y")
	plain.SecretKey = nil
	y := c.start(plain)
	// Give them several re-join rounds, then check nobody merged.
	time.Sleep(2 * time.Second)
	for _, n := range nodes {
		for _, name := range []string{"x", "y"} {
			if _, ok := stateOf(n.Membership, name); ok {
				t.Errorf("a member with the key sees %s", name)
			}
		}
	}
	for _, n := range []*testNode{x, y} {
		if got := len(n.Members()); got != 1 {
			t.Errorf("a member with another key sees %d members, want itself only", got)
		}
	}
}

func TestMembershipLabelsSeparateClusters(t *testing.T) {
	t.Parallel()
	c1, c2 := newTestCluster(t), newTestCluster(t)
	a := c1.start(c1.config("a"))
	c2.seeds = []string{a.Addr()} // b seeds into the other cluster
	b := c2.start(c2.config("b"))
	time.Sleep(1500 * time.Millisecond)
	if len(a.Members()) != 1 || len(b.Members()) != 1 {
		t.Errorf("clusters with different labels merged: %v / %v", a.Members(), b.Members())
	}
}

// TestMembershipPartitionHeals cuts one member off the network: both sides
// declare the other dead; once healed, the periodic re-join merges them.
func TestMembershipPartitionHeals(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	nodes := c.startN("a", "b")
	cfg := c.config("c")
	cfg.Faults = &cluster.Faults{}
	z := c.start(cfg)
	all := append(nodes, z)
	eventually(t, 10*time.Second, "all alive", allSee(all, cluster.StateAlive, "a", "b", "c"))

	z.faults.Cut()
	eventually(t, 10*time.Second, "a and b see c dead", allSee(nodes, cluster.StateDead, "c"))
	eventually(t, 10*time.Second, "c sees a and b dead", allSee([]*testNode{z}, cluster.StateDead, "a", "b"))
	// The zombie still believes in itself.
	if !sees(z.Membership, cluster.StateAlive, "c") {
		t.Error("c does not see itself alive")
	}

	z.faults.Heal()
	took := eventually(t, 15*time.Second, "partition healed", allSee(all, cluster.StateAlive, "a", "b", "c"))
	t.Logf("partition healed %v after the network came back", took)
}

// TestMembershipRestartSameName: a worker that crashed comes back with the
// same name on another port and is accepted (DeadNodeReclaimTime).
func TestMembershipRestartSameName(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	nodes := c.startN("a", "b")
	eventually(t, 10*time.Second, "all alive", allSee(nodes, cluster.StateAlive, "a", "b"))
	oldAddr := nodes[1].Addr()
	_ = nodes[1].Close()
	eventually(t, 10*time.Second, "a sees b dead", allSee(nodes[:1], cluster.StateDead, "b"))

	b2 := c.start(c.config("b"))
	if b2.Addr() == oldAddr {
		t.Skip("the OS gave the same port again; nothing to test")
	}
	eventually(t, 10*time.Second, "a sees the new b alive", func() bool {
		mb, _ := stateOf(nodes[0].Membership, "b")
		return mb.State == cluster.StateAlive && mb.Addr == b2.Addr()
	})
}

func TestMembershipLifecycle(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	m, err := cluster.NewMembership(c.config("a"))
	if err != nil {
		t.Fatal(err)
	}
	if m.BoundPort() == 0 || !strings.HasSuffix(m.Addr(), fmt.Sprintf(":%d", m.BoundPort())) {
		t.Errorf("Addr %s, bound port %d", m.Addr(), m.BoundPort())
	}
	// Draining before Run only sets the flag.
	if err := m.SetDraining(true, time.Second); err != nil || !m.Meta().Draining {
		t.Errorf("SetDraining before Run: %v, %+v", err, m.Meta())
	}
	// Close without Run releases the port; Close is idempotent; Run after
	// Close fails.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); !errors.Is(err, cluster.ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}

	// Run twice; context end leaves gracefully and returns nil.
	cfg := c.config("b")
	cfg.AdvertiseAddr = "127.0.0.2" // used exactly as given
	cfg.AdvertisePort = 7946
	m2, err := cluster.NewMembership(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Addr() != "127.0.0.2:7946" {
		t.Errorf("Addr %s, want the advertised 127.0.0.2:7946", m2.Addr())
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- m2.Run(ctx) }()
	eventually(t, 5*time.Second, "b sees itself", func() bool { return sees(m2, cluster.StateAlive, "b") })
	if err := m2.Run(ctx); !errors.Is(err, cluster.ErrRunning) {
		t.Errorf("second Run: %v, want ErrRunning", err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Run: %v", err)
	}
	if !m2.Meta().Draining {
		t.Error("leaving on context end did not mark the worker draining")
	}
	_ = m2.Close()
}

func TestMembershipConfigValidate(t *testing.T) {
	t.Parallel()
	ok := cluster.MembershipConfig{Name: "a", BindAddr: "127.0.0.1"}
	tests := []struct {
		name   string
		mutate func(*cluster.MembershipConfig)
		want   string // substring of the error; empty: valid
	}{
		{"valid", func(*cluster.MembershipConfig) {}, ""},
		{"no name", func(c *cluster.MembershipConfig) { c.Name = "" }, "name is required"},
		{"meta id differs", func(c *cluster.MembershipConfig) { c.Meta.WorkerID = "b" }, "differs from name"},
		{"bind not an IP", func(c *cluster.MembershipConfig) { c.BindAddr = "localhost" }, "bind address"},
		{"wildcard bind, no advertise", func(c *cluster.MembershipConfig) { c.BindAddr = "0.0.0.0" }, "unspecified"},
		{"wildcard bind with advertise", func(c *cluster.MembershipConfig) { c.BindAddr, c.AdvertiseAddr = "0.0.0.0", "10.0.0.1" }, ""},
		{"bad port", func(c *cluster.MembershipConfig) { c.BindPort = 70000 }, "ports"},
		{"key length", func(c *cluster.MembershipConfig) { c.SecretKey = []byte("short") }, "secret key is 5 bytes"},
		{"keyring", func(c *cluster.MembershipConfig) { c.Keys = [][]byte{make([]byte, 32), make([]byte, 16)} }, ""},
		{"keyring key length", func(c *cluster.MembershipConfig) { c.Keys = [][]byte{make([]byte, 32), []byte("short")} }, "key 2 is 5 bytes"},
		{"keyring and secret key", func(c *cluster.MembershipConfig) { c.Keys, c.SecretKey = [][]byte{make([]byte, 16)}, make([]byte, 16) }, "not both"},
		{"keyring too long", func(c *cluster.MembershipConfig) {
			for i := range cluster.MaxKeys + 1 {
				c.Keys = append(c.Keys, bytes.Repeat([]byte{byte(i)}, 16))
			}
		}, "at most 8"},
		{"meta too large", func(c *cluster.MembershipConfig) { c.Meta.RESTURL = strings.Repeat("x", 500) }, "at most 512"},
		{"probe timeout", func(c *cluster.MembershipConfig) { c.ProbeTimeout = time.Second }, "probe timeout"},
		{"negative", func(c *cluster.MembershipConfig) { c.RejoinInterval = -1 }, "negative"},
		{"label", func(c *cluster.MembershipConfig) { c.Label = strings.Repeat("l", 300) }, "label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, cluster.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrInvalidConfig mentioning %q", err, tt.want)
			}
			if _, err := cluster.NewMembership(cfg); !errors.Is(err, cluster.ErrInvalidConfig) {
				t.Errorf("NewMembership accepted it: %v", err)
			}
		})
	}
}

// TestMembershipDetectionFigures measures failure detection with the
// default tuning for docs/cluster.md. It takes a while, so it runs only
// with CLUSTER_MEASURE=1.
func TestMembershipDetectionFigures(t *testing.T) {
	if os.Getenv("CLUSTER_MEASURE") == "" {
		t.Skip("set CLUSTER_MEASURE=1 to measure failure detection")
	}
	for _, size := range []int{3, 5} {
		var times []time.Duration
		for range 5 {
			c := newTestCluster(t)
			var names []string
			for i := range size {
				names = append(names, fmt.Sprintf("n%d", i))
			}
			nodes := c.startN(names...)
			eventually(t, 10*time.Second, "all alive", allSee(nodes, cluster.StateAlive, names...))
			time.Sleep(time.Second)
			victim := nodes[len(nodes)-1]
			start := time.Now()
			_ = victim.Close()
			eventually(t, 15*time.Second, "dead", allSee(nodes[:len(nodes)-1], cluster.StateDead, names[len(names)-1]))
			times = append(times, time.Since(start))
			for _, n := range nodes {
				_ = n.Close()
			}
		}
		slices.Sort(times)
		t.Logf("%d members: killed member dead at every survivor after min %v, median %v, max %v",
			size, times[0].Round(time.Millisecond), times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	}
}
