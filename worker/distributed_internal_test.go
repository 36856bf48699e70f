package worker

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker/cluster"
)

// TestHasQuorum: a leader replaces an assignment only when it sees a
// majority of the assignment's workers the membership still knows.
func TestHasQuorum(t *testing.T) {
	t.Parallel()
	prev := func(ids ...string) cluster.Assignment {
		a := cluster.Assignment{Workers: map[string][]cluster.Slot{}}
		for _, id := range ids {
			a.Workers[id] = nil
		}
		return a
	}
	live := func(ids ...string) []cluster.Worker {
		var out []cluster.Worker
		for _, id := range ids {
			out = append(out, cluster.Worker{ID: id})
		}
		return out
	}
	mem := func(states map[string]cluster.MemberState) []cluster.Member {
		var out []cluster.Member
		for id, st := range states {
			out = append(out, cluster.Member{Name: id, State: st})
		}
		return out
	}
	const alive, dead, left = cluster.StateAlive, cluster.StateDead, cluster.StateLeft
	tests := []struct {
		name    string
		prev    cluster.Assignment
		live    []cluster.Worker
		members []cluster.Member
		want    bool
	}{
		{"first assignment", prev(), live("a"), mem(map[string]cluster.MemberState{"a": alive}), true},
		{"majority after a death", prev("a", "b", "c"), live("a", "b"),
			mem(map[string]cluster.MemberState{"a": alive, "b": alive, "c": dead}), true},
		{"isolated minority", prev("a", "b", "c"), live("c"),
			mem(map[string]cluster.MemberState{"a": dead, "b": dead, "c": alive}), false},
		{"half with the smallest id", prev("a", "b"), live("a"),
			mem(map[string]cluster.MemberState{"a": alive, "b": dead}), true},
		{"half without the smallest id", prev("a", "b"), live("b"),
			mem(map[string]cluster.MemberState{"a": dead, "b": alive}), false},
		{"graceful leavers do not count", prev("a", "b", "c"), live("c"),
			mem(map[string]cluster.MemberState{"a": left, "b": left, "c": alive}), true},
		{"unknown workers do not count", prev("x", "y", "c"), live("c"),
			mem(map[string]cluster.MemberState{"c": alive}), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := hasQuorum(tc.prev, tc.live, tc.members); got != tc.want {
				t.Errorf("hasQuorum = %v, want %v", got, tc.want)
			}
		})
	}
}

// statusStore is the part of a ClusterStore the hand-over reads, the
// statuses of an state.Memory; nothing else is called here.
type statusStore struct {
	ClusterStore
	mem state.Store
}

func (s statusStore) Statuses(ctx context.Context, conn string) ([]state.Status, error) {
	return s.mem.Statuses(ctx, conn)
}

// TestAwaitHandOver: a task moved from a live worker waits until that
// worker no longer reports it running, at most its stop timeout plus a
// margin; a departed owner or this worker's own status never waits.
func TestAwaitHandOver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		worker  string // writer of the task's status
		state   state.State
		waiting time.Duration // how long the task has waited already; 0: first look
		want    bool
	}{
		{"running on a live worker", "b", state.StateRunning, 0, true},
		{"restarting on a live worker", "b", state.StateRestarting, 0, true},
		{"still running, within the bound", "b", state.StateRunning, 3 * time.Second, true},
		{"still running, bound passed", "b", state.StateRunning, handOverMargin + time.Second, false},
		{"stopped by the live worker", "b", state.StateUnassigned, 0, false},
		{"failed on the live worker", "b", state.StateFailed, 0, false},
		{"running on a departed worker", "gone", state.StateRunning, 0, false},
		{"running here", "a", state.StateRunning, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			mem := state.NewMemory()
			if err := mem.PutStatus(ctx, state.Status{Connector: "c", Task: 1, State: tt.state, WorkerID: tt.worker, Generation: 3}); err != nil {
				t.Fatal(err)
			}
			d := &Distributed{cfg: DistributedConfig{Config: Config{WorkerID: "a"}}, st: statusStore{mem: mem},
				log: slog.New(slog.DiscardHandler), handOver: map[cluster.TaskID]time.Time{}}
			id := cluster.TaskID{Connector: "c", Task: 1}
			if tt.waiting > 0 {
				d.handOver[id] = time.Now().Add(-tt.waiting)
			}
			c := &connState{v: &validation{cfg: &connectorConfig{}}}
			_, got := d.awaitHandOver(ctx, id, c, map[string]bool{"a": true, "b": true})
			if got != tt.want {
				t.Errorf("wait = %v, want %v", got, tt.want)
			}
			if _, held := d.handOver[id]; held != got {
				t.Errorf("handOver holds the task: %v, want %v", held, got)
			}
		})
	}
}
