package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker/cluster"
)

// TestZombieIsFenced plays the fencing story of docs/cluster.md in one
// process: membership, leader, assignment and the offset store's
// generation check together. A worker cut off from gossip keeps running a
// task; the others move it at a newer generation; the zombie's later
// commit is refused, and once healed it learns it lost the task.
func TestZombieIsFenced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := state.NewMemory()
	defer store.Close()

	c := newTestCluster(t)
	nodes := c.startN("a", "b")
	zcfg := c.config("z")
	zcfg.Faults = &cluster.Faults{}
	z := c.start(zcfg)
	all := append(nodes, z)
	eventually(t, 10*time.Second, "all alive", allSee(all, cluster.StateAlive, "a", "b", "z"))

	tasks := []cluster.TaskID{{Connector: "orders", Task: 0}, {Connector: "orders", Task: 1}, {Connector: "orders", Task: 2}}
	// The leader assigns from its own view of the members.
	assign := func(view *cluster.Membership, prev cluster.Assignment) cluster.Plan {
		t.Helper()
		live := cluster.LiveWorkers(view.Members())
		if leader, _ := cluster.Leader(live); leader != "a" {
			t.Fatalf("leader %q, want a", leader)
		}
		plan, err := cluster.Assign(live, tasks, prev)
		if err != nil {
			t.Fatal(err)
		}
		return plan
	}
	first := assign(nodes[0].Membership, cluster.Assignment{})
	zSlots := first.Assignment.Workers["z"]
	if len(zSlots) != 1 {
		t.Fatalf("z runs %v, want one task", zSlots)
	}
	task, zGen := zSlots[0].TaskID, zSlots[0].Since
	partition := map[string]api.Position{"p0": api.Position("z-1")}
	if err := store.CommitOffsets(ctx, task.Connector, zGen, partition); err != nil {
		t.Fatal(err)
	}

	// z is cut off; the others declare it dead and move its task.
	z.faults.Cut()
	eventually(t, 10*time.Second, "a and b see z dead", allSee(nodes, cluster.StateDead, "z"))
	second := assign(nodes[0].Membership, first.Assignment)
	owner, slot, ok := second.Assignment.Owner(task)
	if !ok || owner == "z" || slot.Since <= zGen {
		t.Fatalf("task %s now on %q at generation %d (z had %d)", task, owner, slot.Since, zGen)
	}
	if err := store.CommitOffsets(ctx, task.Connector, slot.Since, map[string]api.Position{"p0": api.Position(owner + "-1")}); err != nil {
		t.Fatal(err)
	}

	// The zombie still runs the task and commits: refused.
	err := store.CommitOffsets(ctx, task.Connector, zGen, map[string]api.Position{"p0": api.Position("z-2")})
	if !errors.Is(err, state.ErrFenced) {
		t.Fatalf("zombie commit: %v, want ErrFenced", err)
	}
	got, err := store.Offsets(ctx, task.Connector)
	if err != nil || string(got["p0"]) != owner+"-1" {
		t.Fatalf("stored offset %q, %v; want the new owner's", got["p0"], err)
	}

	// Healed, z rejoins; the published assignment tells it what it lost.
	z.faults.Heal()
	eventually(t, 15*time.Second, "z back", allSee(all, cluster.StateAlive, "a", "b", "z"))
	if revoked := second.Revoked("z"); len(revoked) != 1 || revoked[0] != task {
		t.Errorf("z must stop %v, plan revokes %v", task, revoked)
	}
	// Back and alive, z gets its share again, at a newer generation still.
	third := assign(nodes[0].Membership, second.Assignment)
	if n := len(third.Assignment.Workers["z"]); n != 1 {
		t.Errorf("z gets %d tasks back, want 1", n)
	}
	for _, s := range third.Assignment.Workers["z"] {
		if s.Since <= slot.Since {
			t.Errorf("z's new task %s at generation %d, not above %d", s.TaskID, s.Since, slot.Since)
		}
	}
}
