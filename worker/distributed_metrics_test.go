package worker_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/worker"
)

// TestDistributedClusterMetrics: a cluster worker reports the leader, the
// generation it applied, the rebalances it finished with their pause and
// the membership, and /metrics exports them. A second worker joining
// moves tasks: both count the rebalance, both paused tasks for it.
func TestDistributedClusterMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("gossip on loopback takes seconds")
	}
	t.Parallel()
	st := newMemCluster()
	fakes := newHerdFakes()
	g0 := freeGossip(t)
	first := startNodeReg(t, st, fakes.registry(), nil, g0)
	var conns []string
	for i := range 2 {
		name := fmt.Sprintf("m%d", i)
		conns = append(conns, name)
		body, _ := json.Marshal(map[string]any{"name": name, "config": with(baseConfig(name), "source", "planned", "tasks.max", "2")})
		resp, err := http.Post(first.url+"/connectors", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s: %d", name, resp.StatusCode)
		}
	}
	eventually(t, "4 tasks running on the first worker, its rebalance done", func() bool {
		m := first.w.ClusterMetrics()
		return len(owners(t, first.w, conns)) == 4 && m.Rebalances > 0 && !m.Rebalancing
	})
	m := first.w.ClusterMetrics()
	if !m.Leader || m.Generation == 0 || m.Members["alive"] != 1 || m.HealthScore != 0 || m.LastRebalance.IsZero() {
		t.Errorf("first worker alone: %+v; want leader, a generation, 1 alive member, health 0, a last rebalance", m)
	}
	before := m.Rebalances

	second := startNodeReg(t, st, fakes.registry(), []string{g0}, freeGossip(t))
	ids := []string{first.id, second.id}
	var m0, m1 worker.ClusterMetrics
	eventually(t, "tasks balanced, both workers done with the same generation, each having paused tasks for it", func() bool {
		m0, m1 = first.w.ClusterMetrics(), second.w.ClusterMetrics()
		return balanced(perWorker(owners(t, first.w, conns)), ids) &&
			m0.Generation == m1.Generation && !m0.Rebalancing && !m1.Rebalancing &&
			m0.LastRebalancePause > 0 && m1.LastRebalancePause > 0 && m0.Members["alive"] == 2 && m1.Members["alive"] == 2 &&
			// A joining worker may count itself leader until it has the
			// first worker's start time; the views then agree.
			m0.Leader && !m1.Leader
	})
	if m0.Rebalances <= before || m1.Rebalances == 0 {
		t.Errorf("rebalances: first %d (was %d), second %d; want both counted", m0.Rebalances, before, m1.Rebalances)
	}
	if !m0.Leader || m1.Leader {
		t.Errorf("leader flags: first %v, second %v; want the first only", m0.Leader, m1.Leader)
	}
	t.Logf("pause: first %v, second %v; generation %d", m0.LastRebalancePause, m1.LastRebalancePause, m0.Generation)

	resp, err := http.Get(second.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{
		"ferry_cluster_leader 0\n",
		fmt.Sprintf("ferry_cluster_generation %d\n", m1.Generation),
		"ferry_rebalances_total ",
		"ferry_rebalance_last_pause_seconds ",
		`ferry_cluster_members{state="alive"} 2` + "\n",
		"ferry_cluster_health_score 0\n",
		`ferry_end_to_end_latency_seconds_count{connector="m`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics of the second worker lacks %q", want)
		}
	}
}
