package worker_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ferryhq/ferry/runtime/trace"
)

// TestDistributedTracesFromEveryOwner: a connector whose two tasks run on
// two workers is traced from either one: its traces and its live tap
// hold both tasks' events.
func TestDistributedTracesFromEveryOwner(t *testing.T) {
	if testing.Short() {
		t.Skip("gossip on loopback takes seconds")
	}
	t.Parallel()
	nodes := startCluster(t, 2, nil)
	eventually(t, "two members", func() bool {
		info, err := nodes[1].w.ClusterStatus(context.Background())
		return err == nil && len(info.Members) == 2 && info.Leader != ""
	})
	cfg := with(baseConfig("tr"), "source", "planned", "tasks.max", "2", "trace.sample.rate", "1")
	if code, body := postConnector(t, nodes[0].url, "tr", cfg); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	eventually(t, "one task on each worker", func() bool {
		n := perWorker(owners(t, nodes[0].w, []string{"tr"}))
		return n[nodes[0].id] == 1 && n[nodes[1].id] == 1
	})
	for _, n := range nodes {
		eventually(t, "traces of both tasks through "+n.id, func() bool {
			info, err := n.w.Traces(context.Background(), "tr", trace.Filter{})
			if err != nil || len(info.Unreached) > 0 {
				return false
			}
			seen := map[int]bool{}
			for _, tr := range info.Traces {
				seen[tr.Task] = true
			}
			return seen[0] && seen[1]
		})
		// Merged newest first, within the limit.
		info, err := n.w.Traces(context.Background(), "tr", trace.Filter{Limit: 7})
		if err != nil || len(info.Traces) != 7 {
			t.Fatalf("limit 7: %d traces, %v", len(info.Traces), err)
		}
		for i := 1; i < len(info.Traces); i++ {
			if info.Traces[i].Done.After(info.Traces[i-1].Done) {
				t.Errorf("traces out of order at %d", i)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events, err := nodes[1].w.Tap(ctx, "tr")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for ev := range events {
		seen[ev.Task] = true
		if seen[0] && seen[1] {
			cancel()
		}
	}
	if !seen[0] || !seen[1] {
		t.Errorf("the tap showed tasks %v, want both", seen)
	}

	// Deleted and created again under the same name at once, untraced: no
	// worker shows the old connector's events, whether or not it saw the
	// connector gone in between.
	if code, body := httpDo(t, http.MethodDelete, nodes[0].url+"/connectors/tr", ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, body := postConnector(t, nodes[0].url, "tr", with(cfg, "trace.sample.rate", "0")); code != http.StatusCreated {
		t.Fatalf("create again: %d %s", code, body)
	}
	for _, n := range nodes {
		eventually(t, "no old traces through "+n.id, func() bool {
			info, err := n.w.Traces(context.Background(), "tr", trace.Filter{})
			return err == nil && len(info.Unreached) == 0 && len(info.Traces) == 0
		})
	}
}
