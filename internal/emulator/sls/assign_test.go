package sls

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
)

func TestAssign(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		shards    []int
		consumers []string
		prev      map[int]string
		want      map[int]string
	}{
		{
			name: "no consumers", shards: []int{0, 1}, consumers: nil,
			want: map[int]string{},
		},
		{
			name: "one consumer takes all", shards: []int{0, 1, 2}, consumers: []string{"a"},
			want: map[int]string{0: "a", 1: "a", 2: "a"},
		},
		{
			name: "fresh split is even and ordered", shards: []int{0, 1, 2, 3}, consumers: []string{"b", "a"},
			want: map[int]string{0: "a", 1: "b", 2: "a", 3: "b"},
		},
		{
			name: "newcomer takes only the surplus", shards: []int{0, 1, 2, 3}, consumers: []string{"a", "b"},
			prev: map[int]string{0: "a", 1: "a", 2: "a", 3: "a"},
			want: map[int]string{0: "a", 1: "a", 2: "b", 3: "b"},
		},
		{
			name: "dead consumer's shards go to the living", shards: []int{0, 1, 2, 3}, consumers: []string{"b"},
			prev: map[int]string{0: "a", 1: "b", 2: "a", 3: "b"},
			want: map[int]string{0: "b", 1: "b", 2: "b", 3: "b"},
		},
		{
			name: "odd count: bigger holder keeps the extra", shards: []int{0, 1, 2}, consumers: []string{"a", "b"},
			prev: map[int]string{0: "b", 1: "b", 2: "b"},
			want: map[int]string{0: "b", 1: "b", 2: "a"},
		},
		{
			name: "stable plan stays put", shards: []int{0, 1, 2, 3, 4}, consumers: []string{"a", "b", "c"},
			prev: map[int]string{0: "c", 1: "a", 2: "b", 3: "c", 4: "a"},
			want: map[int]string{0: "c", 1: "a", 2: "b", 3: "c", 4: "a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := assign(tt.shards, tt.consumers, tt.prev)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("assign = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAssignProperties checks every small case: each shard has one live
// owner, counts differ by at most one, and a consumer whose previous holding
// fits its share keeps all of it.
func TestAssignProperties(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c", "d"}
	for nShards := 0; nShards <= 6; nShards++ {
		shards := make([]int, nShards)
		for i := range shards {
			shards[i] = i
		}
		for nCons := 1; nCons <= 3; nCons++ {
			consumers := names[:nCons]
			// prev assigns each shard to one of names (including the
			// absent "d") or to nobody: every such map of up to 6 shards.
			total := 1
			for range shards {
				total *= len(names) + 1
			}
			for code := 0; code < total; code++ {
				prev := map[int]string{}
				for i, c := 0, code; i < nShards; i, c = i+1, c/(len(names)+1) {
					if k := c % (len(names) + 1); k < len(names) {
						prev[i] = names[k]
					}
				}
				checkPlan(t, shards, consumers, prev, assign(shards, consumers, prev))
			}
		}
	}
}

func checkPlan(t *testing.T, shards []int, consumers []string, prev, plan map[int]string) {
	t.Helper()
	ctx := fmt.Sprintf("shards=%v consumers=%v prev=%v plan=%v", shards, consumers, prev, plan)
	if len(plan) != len(shards) {
		t.Fatalf("%s: %d shards planned, want %d", ctx, len(plan), len(shards))
	}
	count := map[string]int{}
	for _, s := range shards {
		c, ok := plan[s]
		if !ok || sort.SearchStrings(consumers, c) == len(consumers) || consumers[sort.SearchStrings(consumers, c)] != c {
			t.Fatalf("%s: shard %d owner %q is not a live consumer", ctx, s, c)
		}
		count[c]++
	}
	lo, hi := len(shards), 0
	for _, c := range consumers {
		lo, hi = min(lo, count[c]), max(hi, count[c])
	}
	if hi-lo > 1 {
		t.Fatalf("%s: unbalanced, counts %v", ctx, count)
	}
	// Stickiness: a live consumer that held at most the minimum share
	// keeps every shard it held.
	held := map[string][]int{}
	for s, c := range prev {
		held[c] = append(held[c], s)
	}
	for _, c := range consumers {
		if len(held[c]) > lo {
			continue
		}
		for _, s := range held[c] {
			if plan[s] != c {
				t.Fatalf("%s: %s lost shard %d although it held only %d", ctx, c, s, len(held[c]))
			}
		}
	}
}
