package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
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
				log: slog.New(slog.DiscardHandler), handOver: map[cluster.TaskID]time.Time{}, traced: map[string]time.Time{}}
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

// TestClusterLevelsReplay: applying the loggers register in order to a
// fresh worker's levels gives what a worker that applied every write as
// it came has, whatever the order of ancestors and descendants.
func TestClusterLevelsReplay(t *testing.T) {
	t.Parallel()
	names := []string{RootLogger, "ferry", "ferry.runtime", "ferry.runtime.x", "ferry.worker", "orders"}
	all := []slog.Level{LevelTrace, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, LevelFatal, LevelOff}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		live := NewLogLevels(slog.LevelInfo)
		var cl clusterLevels
		for range 1 + rng.IntN(12) {
			name, level := names[rng.IntN(len(names))], all[rng.IntN(len(all))]
			if err := cl.set(name, level); err != nil {
				t.Fatal(err)
			}
			live.SetLevel(name, level)
		}
		b, err := json.Marshal(cl)
		if err != nil {
			t.Fatal(err)
		}
		late := NewLogLevels(slog.LevelInfo)
		var read clusterLevels
		if err := json.Unmarshal(b, &read); err != nil {
			t.Fatal(err)
		}
		for _, l := range read.Levels {
			lv, err := ParseLevel(l.Level)
			if err != nil {
				t.Fatal(err)
			}
			late.SetLevel(l.Logger, lv)
		}
		for _, name := range append(names, "ferry.connectors", "other") {
			if got, want := late.Level(name).Level, live.Level(name).Level; got != want {
				t.Fatalf("round %d, register %s: %s is %s after a replay, %s live", round, b, name, LevelName(got), LevelName(want))
			}
		}
		if got, want := len(late.Loggers()), len(live.Loggers()); got != want {
			t.Fatalf("round %d: %d loggers after a replay, %d live", round, got, want)
		}
	}
}

// TestClusterLevelsBound: at most MaxClusterLoggers loggers have a
// cluster-scoped level; setting one of them again is still allowed.
func TestClusterLevelsBound(t *testing.T) {
	t.Parallel()
	var cl clusterLevels
	for i := range MaxClusterLoggers {
		if err := cl.set(fmt.Sprintf("ferry.p%d", i), slog.LevelDebug); err != nil {
			t.Fatalf("logger %d: %v", i, err)
		}
	}
	err := cl.set("ferry.one_more", slog.LevelDebug)
	if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "at most 1024 loggers") {
		t.Fatalf("logger %d: %v, want ErrBadRequest naming the bound", MaxClusterLoggers+1, err)
	}
	if err := cl.set("ferry.p0", slog.LevelWarn); err != nil {
		t.Fatalf("setting an existing one again: %v", err)
	}
	if last := cl.Levels[len(cl.Levels)-1]; last.Logger != "ferry.p0" || last.Level != "WARN" || last.Seq != cl.Seq || len(cl.Levels) != MaxClusterLoggers {
		t.Fatalf("after setting ferry.p0 again: last %+v, seq %d, %d levels", last, cl.Seq, len(cl.Levels))
	}
}
