package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/cluster"
)

// TestWriteWaitsForNewLeader: a write sent to a follower right after the
// leader was killed (its REST server gone, gossip not yet aware) waits
// for the survivors to choose a new leader and is applied there, once.
func TestWriteWaitsForNewLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("gossip on loopback takes seconds")
	}
	t.Parallel()
	nodes := startCluster(t, 3, nil)
	eventually(t, "three members, the first leads", func() bool {
		info, err := nodes[1].w.ClusterStatus(context.Background())
		return err == nil && len(info.Members) == 3 && info.Leader == nodes[0].id
	})

	nodes[0].crash()
	start := time.Now()
	code, body := postConnector(t, nodes[1].url, "after-crash", baseConfig("after-crash"))
	if code != http.StatusCreated {
		t.Fatalf("create through a follower right after the leader died: %d %s, want 201", code, body)
	}
	t.Logf("create answered 201 after %v", time.Since(start))
	// The worker that took the write knows a survivor leads; the other
	// survivor's gossip view may trail it by a moment.
	info, err := nodes[1].w.ClusterStatus(context.Background())
	if err != nil || info.Leader == nodes[0].id {
		t.Errorf("leader after the write, as its forwarder sees it: %q (%v), want a survivor", info.Leader, err)
	}
	eventually(t, "the other survivor sees a survivor lead", func() bool {
		info, err := nodes[2].w.ClusterStatus(context.Background())
		return err == nil && info.Leader != "" && info.Leader != nodes[0].id
	})
	eventually(t, "the new connector's task runs once", func() bool {
		own := owners(t, nodes[2].w, []string{"after-crash"})
		return len(own) == 1 && len(own["after-crash/0"]) == 1
	})
}

// TestWriteWaitsForFirstLeader: a write to a worker whose membership has
// not started (no leader known yet) waits instead of failing, and is
// applied once the worker leads.
func TestWriteWaitsForFirstLeader(t *testing.T) {
	t.Parallel()
	st := newMemCluster()
	id := "w-first"
	mem, err := cluster.NewMembership(cluster.MembershipConfig{
		Name: id, BindAddr: "127.0.0.1", Label: "first", Logger: slog.New(slog.DiscardHandler),
		Meta: cluster.Meta{WorkerID: id, RESTURL: "http://127.0.0.1:1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.NewDistributed(worker.DistributedConfig{
		Config:  worker.Config{WorkerID: id, Store: st, Registry: newHerdFakes().registry(), Logger: slog.New(slog.DiscardHandler)},
		Cluster: st, Membership: mem, Peer: peers(nil, id),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.CreateConnector(context.Background(), "early", baseConfig("early"), "")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the write returned before any leader existed: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("create once the worker leads: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the write still waits after the worker became leader")
	}
	if _, err := w.ConnectorInfo(context.Background(), "early"); err != nil {
		t.Fatal(err)
	}
}

// lossyTransport forwards requests and, for the paths in lose, drops the
// leader's answer once after the leader handled the request: a leader
// that died between applying a write and answering it.
type lossyTransport struct {
	mu   sync.Mutex
	lose map[string]int // "METHOD path" → answers still to drop
	seen map[string]int // "METHOD path" → requests sent
}

func (l *lossyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	key := req.Method + " " + req.URL.Path
	l.mu.Lock()
	l.seen[key]++
	l.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	drop := l.lose[key] > 0
	if drop {
		l.lose[key]--
	}
	l.mu.Unlock()
	if drop {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, errors.New("connection reset by peer (test: the answer was lost)")
	}
	return resp, nil
}

func (l *lossyTransport) loseNext(method, path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lose[method+" "+path]++
}

func (l *lossyTransport) sent(method, path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[method+" "+path]
}

// TestForwardedWriteReplay: when the leader applied a forwarded write but
// its answer was lost, the follower tries again and the write is applied
// once: the create succeeds (not 409), the task restarts once, the
// delete succeeds (not 404).
func TestForwardedWriteReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("gossip on loopback takes seconds")
	}
	t.Parallel()
	lossy := &lossyTransport{lose: map[string]int{}, seen: map[string]int{}}
	var st *memCluster
	nodes := startCluster(t, 2, func(i int, c *worker.DistributedConfig) {
		st = c.Cluster.(*memCluster)
		if i == 1 {
			c.Peer = peers(&http.Client{Transport: lossy, Timeout: 10 * time.Second}, c.WorkerID)
		}
	})
	leader, follower := nodes[0], nodes[1]
	eventually(t, "two members, the first leads", func() bool {
		info, err := follower.w.ClusterStatus(context.Background())
		return err == nil && len(info.Members) == 2 && info.Leader == leader.id
	})
	ctx := context.Background()

	lossy.loseNext(http.MethodPost, "/connectors")
	code, body := postConnector(t, follower.url, "replayed", baseConfig("replayed"))
	if code != http.StatusCreated {
		t.Fatalf("create whose first answer was lost: %d %s, want 201", code, body)
	}
	if n := lossy.sent(http.MethodPost, "/connectors"); n != 2 {
		t.Errorf("the create was sent %d times, want 2 (the lost one and its replay)", n)
	}
	// A create of another config under the taken name is still refused,
	// replay or not.
	lossy.loseNext(http.MethodPost, "/connectors")
	if code, body := postConnector(t, follower.url, "replayed", with(baseConfig("replayed"), "tasks.max", "2")); code != http.StatusConflict {
		t.Errorf("replayed create of another config: %d %s, want 409", code, body)
	}

	path := "/connectors/replayed/tasks/0/restart"
	eventually(t, "the task set is published", func() bool {
		tasks, err := follower.w.TaskConfigs(ctx, "replayed")
		return err == nil && len(tasks) == 1
	})
	lossy.loseNext(http.MethodPost, path)
	if err := follower.w.RestartTask(ctx, "replayed", 0); err != nil {
		t.Fatalf("restart whose first answer was lost: %v", err)
	}
	if n := lossy.sent(http.MethodPost, path); n != 2 {
		t.Errorf("the restart was sent %d times, want 2", n)
	}
	raw, _, _ := st.Register(ctx, "tasks/replayed")
	var ts struct {
		Restarts []int64 `json:"restarts"`
	}
	if err := json.Unmarshal(raw, &ts); err != nil {
		t.Fatal(err)
	}
	if len(ts.Restarts) != 1 || ts.Restarts[0] != 1 {
		t.Errorf("restart counters %v, want [1]: the replay restarted the task again", ts.Restarts)
	}

	lossy.loseNext(http.MethodDelete, "/connectors/replayed")
	if err := follower.w.DeleteConnector(ctx, "replayed"); err != nil {
		t.Fatalf("delete whose first answer was lost: %v", err)
	}
	if _, err := leader.w.ConnectorInfo(ctx, "replayed"); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("after the delete: %v, want ErrNotFound", err)
	}
	// Without a lost answer, deleting what is not there is still 404.
	if err := follower.w.DeleteConnector(ctx, "replayed"); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
}

// postConnector creates a connector through url's REST API and returns
// the status code and body.
func postConnector(t *testing.T, url, name string, config map[string]string) (int, string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"name": name, "config": config})
	resp, err := http.Post(url+"/connectors", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// laggingStore is a replica that has not read the connectors in hidden
// yet; its own next register write (applied in order after them) catches
// it up, as state/rocketmq's config topic does.
type laggingStore struct {
	*memCluster
	mu     sync.Mutex
	hidden map[string]bool
}

func (l *laggingStore) Connector(ctx context.Context, name string) (state.Connector, error) {
	l.mu.Lock()
	hide := l.hidden[name]
	l.mu.Unlock()
	if hide {
		return state.Connector{}, fmt.Errorf("connector %q: %w", name, state.ErrNotFound)
	}
	return l.memCluster.Connector(ctx, name)
}

func (l *laggingStore) Connectors(ctx context.Context) ([]state.Connector, error) {
	all, err := l.memCluster.Connectors(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.DeleteFunc(all, func(c state.Connector) bool { return l.hidden[c.Name] }), err
}

func (l *laggingStore) PutRegister(ctx context.Context, key string, expect int64, value []byte) (int64, error) {
	l.mu.Lock()
	clear(l.hidden)
	l.mu.Unlock()
	return l.memCluster.PutRegister(ctx, key, expect, value)
}

// TestReplayCatchesUp: a new leader whose replica has not yet read the
// old leader's create catches up before it handles the replay, so it
// finds the connector instead of creating it a second time.
func TestReplayCatchesUp(t *testing.T) {
	t.Parallel()
	var lag *laggingStore
	n := startCluster(t, 1, func(_ int, c *worker.DistributedConfig) {
		lag = &laggingStore{memCluster: c.Cluster.(*memCluster), hidden: map[string]bool{}}
		c.Cluster, c.Store = lag, lag
	})[0]
	ctx := context.Background()
	eventually(t, "the worker leads", func() bool {
		info, err := n.w.ClusterStatus(ctx)
		return err == nil && info.Leader == n.id
	})
	time.Sleep(200 * time.Millisecond) // its first passes are over: it writes nothing more on its own
	// The old leader's create, applied but not yet read by this replica.
	def, err := lag.memCluster.PutConnector(ctx, state.Connector{Name: "lost", Config: baseConfig("lost"), Target: state.TargetRunning})
	if err != nil {
		t.Fatal(err)
	}
	lag.mu.Lock()
	lag.hidden["lost"] = true
	lag.mu.Unlock()

	b, _ := json.Marshal(map[string]any{"name": "lost", "config": baseConfig("lost")})
	req, _ := http.NewRequest(http.MethodPost, n.url+"/connectors", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ferry-Forwarded-By", "w-old-follower")
	req.Header.Set("Ferry-Request-Id", "r1")
	req.Header.Set("Ferry-Replay", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("replayed create: %d %s, want 201", resp.StatusCode, body)
	}
	got, err := lag.memCluster.Connector(ctx, "lost")
	if err != nil || got.Revision != def.Revision {
		t.Errorf("revision %d (%v) after the replay, want %d: the connector was written again", got.Revision, err, def.Revision)
	}
}
