package worker

import (
	"testing"

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
