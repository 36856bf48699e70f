package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ferryhq/ferry/worker/cluster"
)

// The scale case of issue 5: 1,000 connectors × 3 tasks on 5 workers.
const scaleConns, scaleTasks = 1000, 3

// TestScale reports the assignment time and the tasks relocated when a
// sixth worker joins and when a worker leaves, against the least possible.
func TestScale(t *testing.T) {
	t.Parallel()
	tasks := tasksOf(scaleConns, scaleTasks)
	five := workersOf("w1", "w2", "w3", "w4", "w5")
	six := workersOf("w1", "w2", "w3", "w4", "w5", "w6")

	start := time.Now()
	initial := mustAssign(t, five, tasks, cluster.Assignment{})
	t.Logf("initial: %d tasks on 5 workers in %v", len(tasks), time.Since(start))

	steps := []struct {
		name    string
		workers []cluster.Worker
		prev    cluster.Assignment
		least   int
	}{
		// 3000 on 5 is 600 each; on 6 it is 500: each old worker gives 100.
		{"join w6", six, initial.Assignment, 500},
		// w3's 600 tasks go to the 4 others.
		{"leave w3", append(five[:2:2], five[3:]...), initial.Assignment, 600},
		{"steady", five, initial.Assignment, 0},
	}
	for _, s := range steps {
		start := time.Now()
		p := mustAssign(t, s.workers, tasks, s.prev)
		took := time.Since(start)
		if p.Relocated() != s.least {
			t.Errorf("%s: relocated %d, least possible %d", s.name, p.Relocated(), s.least)
		}
		t.Logf("%s: relocated %d tasks (least possible %d) in %v", s.name, p.Relocated(), s.least, took)
	}
}

func BenchmarkAssign(b *testing.B) {
	tasks := tasksOf(scaleConns, scaleTasks)
	five := workersOf("w1", "w2", "w3", "w4", "w5")
	six := workersOf("w1", "w2", "w3", "w4", "w5", "w6")
	initial, err := cluster.Assign(five, tasks, cluster.Assignment{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name    string
		workers []cluster.Worker
		prev    cluster.Assignment
	}{
		{"initial", five, cluster.Assignment{}},
		{"steady", five, initial.Assignment},
		{"join", six, initial.Assignment},
		{"leave", five[1:], initial.Assignment},
	} {
		b.Run(fmt.Sprintf("%s/%dx%d", bc.name, scaleConns, scaleTasks), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cluster.Assign(bc.workers, tasks, bc.prev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
