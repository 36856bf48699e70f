package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/cluster"
)

// putLogger sends PUT /admin/loggers/{logger} (logger as it goes in the
// path, escaped by the caller).
func putLogger(t *testing.T, base, logger, query, body string) (int, string) {
	t.Helper()
	return httpDo(t, http.MethodPut, base+"/admin/loggers/"+logger+query, body)
}

type restLevel struct {
	Level        string `json:"level"`
	LastModified *int64 `json:"last_modified"`
}

// getLogger reads GET /admin/loggers/{logger} ("" on any failure).
func getLogger(t *testing.T, base, logger string) restLevel {
	t.Helper()
	resp, err := http.Get(base + "/admin/loggers/" + logger)
	if err != nil {
		return restLevel{}
	}
	defer resp.Body.Close()
	var out restLevel
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return restLevel{}
	}
	return out
}

// allLevels reads GET /admin/loggers as logger → level.
func allLevels(t *testing.T, base string) map[string]string {
	t.Helper()
	resp, err := http.Get(base + "/admin/loggers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var all map[string]restLevel
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, l := range all {
		out[name] = l.Level
	}
	return out
}

// TestClusterLogLevels: PUT /admin/loggers/{logger}?scope=cluster on one
// cluster worker answers 204 and every worker's GET reports the level,
// including a worker that joins afterwards, which applies the levels in
// the order they were set; a level set on one worker alone stays until
// a cluster-scoped write covers it; hostile input is refused with a 400
// naming the problem and stores nothing.
func TestClusterLogLevels(t *testing.T) {
	if testing.Short() {
		t.Skip("gossip on loopback takes seconds")
	}
	t.Parallel()
	ctx := context.Background()
	st := newMemCluster()
	fakes := newHerdFakes()
	g0 := freeGossip(t)
	nodes := []*node{startNodeReg(t, st, fakes.registry(), nil, g0)}
	nodes = append(nodes, startNodeReg(t, st, fakes.registry(), []string{g0}, freeGossip(t)))
	eventually(t, "two members", func() bool {
		info, err := nodes[1].w.ClusterStatus(ctx)
		return err == nil && len(info.Members) == 2 && info.Leader != ""
	})

	// Through the follower: 204, no body, applied here before the answer.
	before := time.Now().UnixMilli()
	if code, body := putLogger(t, nodes[1].url, "ferry.runtime", "?scope=cluster", `{"level": "debug"}`); code != http.StatusNoContent || body != "" {
		t.Fatalf("PUT scope=cluster: %d %q, want 204 and no body", code, body)
	}
	if got := getLogger(t, nodes[1].url, "ferry.runtime"); got.Level != "DEBUG" {
		t.Fatalf("the worker that took the request reports %+v right after its 204", got)
	}
	eventually(t, "DEBUG on every worker", func() bool {
		for _, n := range nodes {
			got := getLogger(t, n.url, "ferry.runtime")
			if got.Level != "DEBUG" || got.LastModified == nil || *got.LastModified < before-1 {
				return false
			}
		}
		return true
	})
	if got := getLogger(t, nodes[0].url, "ferry.connectors.mysql"); got.Level != "INFO" {
		t.Errorf("an unrelated logger changed: %+v", got)
	}

	// A level set on the first worker alone survives its later passes and
	// the next cluster-scoped write of another logger.
	if code, body := putLogger(t, nodes[0].url, "ferry.runtime", "", `{"level": "INFO"}`); code != http.StatusOK {
		t.Fatalf("PUT scope=worker: %d %s", code, body)
	}
	if code, body := putLogger(t, nodes[0].url, "ferry.worker", "?scope=cluster", `{"level": "WARN"}`); code != http.StatusNoContent {
		t.Fatalf("PUT scope=cluster: %d %s", code, body)
	}
	eventually(t, "WARN on the second worker", func() bool { return getLogger(t, nodes[1].url, "ferry.worker").Level == "WARN" })
	time.Sleep(1500 * time.Millisecond) // the loop's safety tick is 1 s: at least one more pass
	if got := getLogger(t, nodes[0].url, "ferry.runtime"); got.Level != "INFO" {
		t.Errorf("the worker-scoped level was overwritten by an old cluster-scoped one: %+v", got)
	}
	if got := getLogger(t, nodes[1].url, "ferry.runtime"); got.Level != "DEBUG" {
		t.Errorf("a worker-scoped level reached another worker: %+v", got)
	}

	// An ancestor set later covers its descendants; a connector is a
	// logger once it exists.
	for _, c := range []struct{ logger, level string }{{"ferry", "TRACE"}, {"ferry.worker", "ERROR"}} {
		if code, body := putLogger(t, nodes[1].url, c.logger, "?scope=cluster", `{"level": "`+c.level+`"}`); code != http.StatusNoContent {
			t.Fatalf("PUT %s scope=cluster: %d %s", c.logger, code, body)
		}
	}
	if code, body := putLogger(t, nodes[1].url, "orders", "?scope=cluster", `{"level": "OFF"}`); code != http.StatusNotFound {
		t.Errorf("PUT scope=cluster of a connector that does not exist: %d %s, want 404", code, body)
	}
	if _, err := nodes[0].w.CreateConnector(ctx, "orders", baseConfig("orders"), ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the connector seen by the second worker", func() bool {
		_, err := nodes[1].w.ConnectorInfo(ctx, "orders")
		return err == nil
	})
	if code, body := putLogger(t, nodes[1].url, "orders", "?scope=cluster", `{"level": "OFF"}`); code != http.StatusNoContent {
		t.Fatalf("PUT orders scope=cluster: %d %s", code, body)
	}
	want := map[string]string{"root": "INFO", "ferry": "TRACE", "ferry.runtime": "TRACE", "ferry.worker": "ERROR", "orders": "OFF"}
	for _, n := range nodes {
		eventually(t, "every cluster-scoped level on "+n.id, func() bool { return maps.Equal(allLevels(t, n.url), want) })
	}

	// A worker that joins afterwards starts with its own levels (Kafka
	// Connect's KIP-976: a cluster-scoped level is for the workers present
	// when it is set).
	late := startNodeReg(t, st, fakes.registry(), []string{g0}, freeGossip(t))
	eventually(t, "the late worker in the cluster", func() bool {
		info, err := late.w.ClusterStatus(ctx)
		return err == nil && len(info.Members) == len(nodes)+1
	})
	if got := allLevels(t, late.url); !maps.Equal(got, map[string]string{"root": "INFO"}) {
		t.Errorf("the late worker took levels set before it started: %v", got)
	}
	// And takes the next change like the others.
	if code, body := putLogger(t, late.url, "root", "?scope=cluster", `{"level": "WARN"}`); code != http.StatusNoContent {
		t.Fatalf("PUT root scope=cluster through the late worker: %d %s", code, body)
	}
	for _, n := range nodes {
		eventually(t, "root WARN on "+n.id, func() bool {
			all := allLevels(t, n.url)
			return all["root"] == "WARN" && all["ferry.worker"] == "WARN" && all["orders"] == "WARN"
		})
	}
	eventually(t, "root WARN on the late worker", func() bool { return allLevels(t, late.url)["root"] == "WARN" })

	// Hostile input: 400 naming the problem (404 for a well-formed name
	// that is no logger), and the register untouched.
	_, ver, _ := st.Register(ctx, "loggers")
	for _, tc := range []struct {
		name, logger, query, body string
		code                      int
		says                      string
	}{
		{"unknown level", "root", "?scope=cluster", `{"level": "LOUD"}`, 400, "invalid log level"},
		{"numeric level", "root", "?scope=cluster", `{"level": 10}`, 400, "level"},
		{"no level", "root", "?scope=cluster", `{}`, 400, "level is required"},
		{"unknown field", "root", "?scope=cluster", `{"level": "INFO", "scope": "cluster"}`, 400, "scope"},
		{"control character", "a%01b", "?scope=cluster", `{"level": "INFO"}`, 400, "control characters"},
		{"newline", "ferry%0Aroot", "?scope=cluster", `{"level": "INFO"}`, 400, "control characters"},
		{"invalid UTF-8", "%FF%FE", "?scope=cluster", `{"level": "INFO"}`, 400, "UTF-8"},
		{"too long", strings.Repeat("x", 600), "?scope=cluster", `{"level": "INFO"}`, 400, "at most 200 bytes"},
		{"package-like and too long", "ferry." + strings.Repeat("a", 600), "?scope=cluster", `{"level": "INFO"}`, 400, "at most"},
		{"padded", "%20root", "?scope=cluster", `{"level": "INFO"}`, 400, "whitespace"},
		{"dot-dot", "..", "?scope=cluster", `{"level": "INFO"}`, 400, `must not be`},
		{"unknown scope", "root", "?scope=everywhere", `{"level": "INFO"}`, 400, "scope must be worker or cluster"},
		{"not a logger", "org.apache.kafka", "?scope=cluster", `{"level": "INFO"}`, 404, "not found"},
	} {
		code, body := putLogger(t, nodes[0].url, tc.logger, tc.query, tc.body)
		if code != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %s, want %d saying %q", tc.name, code, body, tc.code, tc.says)
		}
	}
	if _, after, _ := st.Register(ctx, "loggers"); after != ver {
		t.Errorf("refused requests wrote the loggers register (version %d → %d)", ver, after)
	}
}

// TestClusterLogLevelWithoutLeader: a cluster-scoped level needs no
// leader (the worker writes the register itself) and is applied on the
// worker before SetClusterLogLevel returns; a worker not given Loggers
// refuses rather than claim a level it cannot apply, and a name no
// logger can have is ErrBadRequest. Neither writes the register.
func TestClusterLogLevelWithoutLeader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newMemCluster()
	newWorker := func(id string, levels *worker.LogLevels) *worker.Distributed {
		mem, err := cluster.NewMembership(cluster.MembershipConfig{
			Name: id, BindAddr: "127.0.0.1", Label: "alone", Logger: slog.New(slog.DiscardHandler),
			Meta: cluster.Meta{WorkerID: id, RESTURL: "http://" + loopbackAddr(t)},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = mem.Close() })
		w, err := worker.NewDistributed(worker.DistributedConfig{
			Config:  worker.Config{WorkerID: id, Store: st, Registry: newHerdFakes().registry(), Logger: slog.New(slog.DiscardHandler)},
			Cluster: st, Membership: mem, Peer: peers(nil, id), Loggers: levels,
		})
		if err != nil {
			t.Fatal(err)
		}
		return w // never Run: no leader
	}

	bare := newWorker("w-bare", nil)
	if err := bare.SetClusterLogLevel(ctx, "root", slog.LevelDebug); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("without Loggers: %v, want ErrNotFound", err)
	}
	levels := worker.NewLogLevels(slog.LevelInfo)
	w := newWorker("w-alone", levels)
	for _, bad := range []string{"", "a\x00b", "\xff", strings.Repeat("n", 201), " root", "a/b", ".."} {
		if err := w.SetClusterLogLevel(ctx, bad, slog.LevelDebug); !errors.Is(err, worker.ErrBadRequest) {
			t.Errorf("logger %.20q: %v, want ErrBadRequest", bad, err)
		}
	}
	if _, ver, _ := st.Register(ctx, "loggers"); ver != 0 {
		t.Fatalf("refused calls wrote the loggers register (version %d)", ver)
	}
	start := time.Now()
	if err := w.SetClusterLogLevel(ctx, "ferry.runtime", worker.LevelTrace); err != nil {
		t.Fatalf("without a leader: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v: waited for a leader?", took)
	}
	if got := levels.Level("ferry.runtime.sub"); got.Level != worker.LevelTrace || got.LastModified == nil {
		t.Errorf("not applied on return: %+v", got)
	}
}
