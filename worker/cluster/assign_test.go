package cluster_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ferryhq/ferry/worker/cluster"
)

func tasksOf(conns, perConn int) []cluster.TaskID {
	var out []cluster.TaskID
	for c := range conns {
		for i := range perConn {
			out = append(out, cluster.TaskID{Connector: fmt.Sprintf("conn-%04d", c), Task: i})
		}
	}
	return out
}

func workersOf(ids ...string) []cluster.Worker {
	out := make([]cluster.Worker, len(ids))
	for i, id := range ids {
		out[i] = cluster.Worker{ID: id, Start: time.Unix(int64(i), 0)}
	}
	return out
}

func mustAssign(t testing.TB, w []cluster.Worker, tasks []cluster.TaskID, prev cluster.Assignment) cluster.Plan {
	t.Helper()
	p, err := cluster.Assign(w, tasks, prev)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPlan(w, tasks, prev, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAssignTable(t *testing.T) {
	t.Parallel()
	c := func(name string, i int) cluster.TaskID { return cluster.TaskID{Connector: name, Task: i} }
	slot := func(name string, i int, since int64) cluster.Slot {
		return cluster.Slot{TaskID: c(name, i), Since: since}
	}
	tests := []struct {
		name      string
		workers   []cluster.Worker
		tasks     []cluster.TaskID
		prev      cluster.Assignment
		want      map[string][]cluster.Slot
		wantGen   int64
		wantMoves []cluster.Move
		wantErr   bool
	}{
		{
			name:    "empty",
			want:    map[string][]cluster.Slot{},
			wantGen: 0,
		},
		{
			name:    "workers without tasks change nothing",
			workers: workersOf("a", "b"),
			prev:    cluster.Assignment{Generation: 7},
			want:    map[string][]cluster.Slot{"a": {}, "b": {}},
			wantGen: 7,
		},
		{
			name:      "first assignment",
			workers:   workersOf("a", "b"),
			tasks:     []cluster.TaskID{c("x", 1), c("x", 0)},
			want:      map[string][]cluster.Slot{"a": {slot("x", 0, 1)}, "b": {slot("x", 1, 1)}},
			wantGen:   1,
			wantMoves: []cluster.Move{{Task: c("x", 0), To: "a"}, {Task: c("x", 1), To: "b"}},
		},
		{
			name:    "a task listed twice is kept by the first eligible holder",
			workers: workersOf("a", "b"),
			tasks:   []cluster.TaskID{c("x", 0), c("x", 1)},
			prev: cluster.Assignment{Generation: 3, Workers: map[string][]cluster.Slot{
				"a": {slot("x", 0, 2)}, "b": {slot("x", 0, 3), slot("x", 1, 3)},
			}},
			want:      map[string][]cluster.Slot{"a": {slot("x", 0, 2)}, "b": {slot("x", 1, 3)}},
			wantGen:   4,
			wantMoves: []cluster.Move{{Task: c("x", 0), From: "b"}},
		},
		{
			name:    "a missing Since takes the previous generation",
			workers: workersOf("a"),
			tasks:   []cluster.TaskID{c("x", 0)},
			prev:    cluster.Assignment{Generation: 5, Workers: map[string][]cluster.Slot{"a": {{TaskID: c("x", 0)}}}},
			want:    map[string][]cluster.Slot{"a": {slot("x", 0, 5)}},
			wantGen: 5,
		},
		{
			name:    "duplicate workers and tasks are merged",
			workers: append(workersOf("a", "a"), cluster.Worker{ID: "a", Draining: true}, cluster.Worker{ID: "b"}),
			tasks:   []cluster.TaskID{c("x", 0), c("x", 0)},
			want:    map[string][]cluster.Slot{"a": {}, "b": {slot("x", 0, 1)}},
			wantGen: 1, wantMoves: []cluster.Move{{Task: c("x", 0), To: "b"}},
		},
		{name: "empty worker id", workers: []cluster.Worker{{}}, wantErr: true},
		{name: "empty connector", workers: workersOf("a"), tasks: []cluster.TaskID{{Task: 1}}, wantErr: true},
		{name: "negative task", workers: workersOf("a"), tasks: []cluster.TaskID{c("x", -1)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := cluster.Assign(tt.workers, tt.tasks, tt.prev)
			if tt.wantErr {
				if !errors.Is(err, cluster.ErrInvalidInput) {
					t.Fatalf("error %v, want ErrInvalidInput", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Assignment.Workers, tt.want) {
				t.Errorf("assignment %v, want %v", p.Assignment.Workers, tt.want)
			}
			if p.Assignment.Generation != tt.wantGen {
				t.Errorf("generation %d, want %d", p.Assignment.Generation, tt.wantGen)
			}
			if !slices.Equal(p.Moves, tt.wantMoves) {
				t.Errorf("moves %v, want %v", p.Moves, tt.wantMoves)
			}
		})
	}
}

func TestPlanHelpers(t *testing.T) {
	t.Parallel()
	w := workersOf("a", "b", "c")
	p1 := mustAssign(t, w, tasksOf(2, 3), cluster.Assignment{})
	p2 := mustAssign(t, w[1:], tasksOf(2, 3), p1.Assignment)
	if got := len(p2.Revoked("a")); got != 2 {
		t.Errorf("a revoked %d tasks, want its 2", got)
	}
	if got := len(p2.Assigned("b")) + len(p2.Assigned("c")); got != 2 {
		t.Errorf("b and c got %d tasks, want 2", got)
	}
	for _, task := range p2.Assigned("b") {
		if o, s, ok := p2.Assignment.Owner(task); !ok || o != "b" || s.Since != 2 {
			t.Errorf("Owner(%s) = %s, %+v, %v", task, o, s, ok)
		}
	}
	if _, _, ok := p2.Assignment.Owner(cluster.TaskID{Connector: "none"}); ok {
		t.Error("Owner found a task that does not exist")
	}
}

// TestAssignProperties drives random clusters through random churn and
// checks every rule after every step (checkPlan), plus determinism under
// shuffled input and stability of a balanced cluster.
func TestAssignProperties(t *testing.T) {
	t.Parallel()
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 1))
			s := newRandomCluster(r)
			for range 25 {
				s.step(r)
				plan, err := cluster.Assign(s.workers, s.tasks, s.prev)
				if err != nil {
					t.Fatal(err)
				}
				if err := checkPlan(s.workers, s.tasks, s.prev, plan); err != nil {
					t.Fatalf("after %s: %v", s.last, err)
				}
				// Same input in another order, same output.
				shuffled, err := cluster.Assign(shuffle(r, s.workers), shuffle(r, s.tasks), shuffleAssignment(r, s.prev))
				if err != nil || !reflect.DeepEqual(shuffled, plan) {
					t.Fatalf("after %s: shuffled input gave another plan", s.last)
				}
				// Nothing changed: a balanced cluster never moves anything.
				again, err := cluster.Assign(s.workers, s.tasks, plan.Assignment)
				if err != nil || again.Changed || len(again.Moves) != 0 {
					t.Fatalf("after %s: assigning again moved %v", s.last, again.Moves)
				}
				s.prev = plan.Assignment
			}
		})
	}
}

type randomCluster struct {
	workers []cluster.Worker
	tasks   []cluster.TaskID
	prev    cluster.Assignment
	next    int
	last    string
}

func newRandomCluster(r *rand.Rand) *randomCluster {
	s := &randomCluster{}
	for range 1 + r.IntN(6) {
		s.join()
	}
	for c := range 1 + r.IntN(8) {
		s.setConn(fmt.Sprintf("c%d", c), 1+r.IntN(5))
	}
	return s
}

func (s *randomCluster) join() {
	s.next++
	s.workers = append(s.workers, cluster.Worker{ID: fmt.Sprintf("w%02d", s.next), Start: time.Unix(int64(s.next), 0)})
}

func (s *randomCluster) setConn(name string, n int) {
	s.tasks = slices.DeleteFunc(s.tasks, func(t cluster.TaskID) bool { return t.Connector == name })
	for i := range n {
		s.tasks = append(s.tasks, cluster.TaskID{Connector: name, Task: i})
	}
}

func (s *randomCluster) step(r *rand.Rand) {
	pick := func() *cluster.Worker {
		if len(s.workers) == 0 {
			return nil
		}
		return &s.workers[r.IntN(len(s.workers))]
	}
	switch op := r.IntN(7); op {
	case 0:
		s.join()
		s.last = "join"
	case 1:
		if w := pick(); w != nil {
			id := w.ID
			s.workers = slices.DeleteFunc(s.workers, func(w cluster.Worker) bool { return w.ID == id })
		}
		s.last = "leave"
	case 2:
		if w := pick(); w != nil {
			w.Draining = !w.Draining
		}
		s.last = "drain"
	case 3:
		if w := pick(); w != nil {
			w.Away = !w.Away
		}
		s.last = "away"
	case 4:
		s.setConn(fmt.Sprintf("c%d", r.IntN(10)), r.IntN(6))
		s.last = "resize"
	case 5:
		s.last = "nothing"
	case 6:
		for range 1 + r.IntN(3) {
			s.join()
		}
		s.last = "join several"
	}
}

func shuffle[T any](r *rand.Rand, s []T) []T {
	out := slices.Clone(s)
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func shuffleAssignment(r *rand.Rand, a cluster.Assignment) cluster.Assignment {
	out := cluster.Assignment{Generation: a.Generation, Workers: map[string][]cluster.Slot{}}
	for w, slots := range a.Workers {
		out.Workers[w] = shuffle(r, slots)
	}
	return out
}

// FuzzAssign reads a scenario from bytes: each byte is one operation on a
// small cluster, and every rule is checked after every step.
func FuzzAssign(f *testing.F) {
	f.Add([]byte{0, 0, 0, 4, 4, 4})
	f.Add([]byte{0, 0, 0, 4, 4, 1, 2, 3, 0, 6, 5})
	f.Add([]byte{4, 4, 4, 0, 2, 2, 3, 0, 1, 1, 1, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			return
		}
		s := &randomCluster{}
		for i, op := range ops {
			r := rand.New(rand.NewPCG(uint64(op), uint64(i)))
			s.step(r)
			plan, err := cluster.Assign(s.workers, s.tasks, s.prev)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkPlan(s.workers, s.tasks, s.prev, plan); err != nil {
				t.Fatalf("step %d (%s): %v", i, s.last, err)
			}
			s.prev = plan.Assignment
		}
	})
}

// TestAssignSpreadsConnectors: on a fresh cluster every connector's tasks
// land on distinct workers when there are enough workers.
func TestAssignSpreadsConnectors(t *testing.T) {
	t.Parallel()
	plan := mustAssign(t, workersOf("a", "b", "c", "d", "e"), tasksOf(1000, 3), cluster.Assignment{})
	for w, slots := range plan.Assignment.Workers {
		seen := map[string]bool{}
		for _, s := range slots {
			if seen[s.Connector] {
				t.Fatalf("worker %s runs two tasks of %s", w, s.Connector)
			}
			seen[s.Connector] = true
		}
	}
}
