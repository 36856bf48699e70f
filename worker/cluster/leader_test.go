package cluster_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ferryhq/ferry/worker/cluster"
)

func TestLeader(t *testing.T) {
	t.Parallel()
	at := func(s int64) time.Time { return time.Unix(s, 0) }
	tests := []struct {
		name    string
		workers []cluster.Worker
		want    string
	}{
		{"none", nil, ""},
		{"oldest", []cluster.Worker{{ID: "b", Start: at(2)}, {ID: "c", Start: at(1)}, {ID: "a", Start: at(3)}}, "c"},
		{"tie by id", []cluster.Worker{{ID: "b", Start: at(1)}, {ID: "a", Start: at(1)}}, "a"},
		{"draining never leads", []cluster.Worker{{ID: "a", Start: at(1), Draining: true}, {ID: "b", Start: at(9)}}, "b"},
		{"unless all drain", []cluster.Worker{{ID: "b", Start: at(2), Draining: true}, {ID: "a", Start: at(3), Draining: true}}, "b"},
		{"away is not live", []cluster.Worker{{ID: "a", Start: at(1), Away: true}, {ID: "b", Start: at(2), Draining: true}}, "b"},
		{"only away", []cluster.Worker{{ID: "a", Away: true}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := cluster.Leader(tt.workers)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("Leader = %q, %v; want %q", got, ok, tt.want)
			}
			// Independent of order.
			rev := slices.Clone(tt.workers)
			slices.Reverse(rev)
			if again, _ := cluster.Leader(rev); again != got {
				t.Errorf("reversed input: %q, want %q", again, got)
			}
		})
	}
}

func TestInGrace(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	ago := func(s int) time.Time { return now.Add(-time.Duration(s) * time.Second) }
	deps := []cluster.Departure{
		{Worker: "a", At: ago(1)},
		{Worker: "b", At: ago(3)},
		{Worker: "c", At: ago(10)},
		{Worker: "d", At: ago(1), Graceful: true},
		{Worker: "c", At: ago(2)}, // c came back and died again
		{Worker: "e", At: ago(5)}, // exactly at the end: out
	}
	tests := []struct {
		name     string
		grace    time.Duration
		wantAway []string
		wantNext time.Time
	}{
		{"zero grace", 0, nil, time.Time{}},
		{"5s", 5 * time.Second, []string{"a", "b", "c"}, ago(3).Add(5 * time.Second)},
		{"2s", 2 * time.Second, []string{"a"}, ago(1).Add(2 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			away, next := cluster.InGrace(deps, now, tt.grace)
			if !slices.Equal(away, tt.wantAway) || !next.Equal(tt.wantNext) {
				t.Errorf("InGrace = %v, %v; want %v, %v", away, next, tt.wantAway, tt.wantNext)
			}
		})
	}
}
