package cluster_test

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/ferryhq/ferry/worker/cluster"
)

// owners flattens an assignment to task → worker.
func owners(a cluster.Assignment) map[cluster.TaskID]string {
	out := make(map[cluster.TaskID]string)
	for w, slots := range a.Workers {
		for _, s := range slots {
			out[s.TaskID] = w
		}
	}
	return out
}

// idealRelocations is the least number of tasks that must restart on
// another worker, computed on its own from the rules (not from Assign's
// code): every task of a departed or draining worker, plus the surplus of
// the eligible workers when the ⌈n/k⌉ places go to the fullest workers.
// prev must list each task once.
func idealRelocations(workers []cluster.Worker, tasks []cluster.TaskID, prev cluster.Assignment) int {
	class := map[string]string{}
	for _, w := range workers {
		switch {
		case w.Away:
			class[w.ID] = "away"
		case w.Draining:
			class[w.ID] = "draining"
		default:
			class[w.ID] = "eligible"
		}
	}
	exists := map[cluster.TaskID]bool{}
	for _, t := range tasks {
		exists[t] = true
	}
	eligible := 0
	for _, c := range class {
		if c == "eligible" {
			eligible++
		}
	}
	if eligible == 0 {
		return 0
	}
	kept := map[string]int{}
	orphans, frozen := 0, 0
	for t, w := range owners(prev) {
		if !exists[t] {
			continue
		}
		switch class[w] {
		case "eligible":
			kept[w]++
		case "away":
			frozen++
		default:
			orphans++
		}
	}
	n := len(exists) - frozen
	base, extra := n/eligible, n%eligible
	loads := slices.Collect(maps.Values(kept))
	slices.SortFunc(loads, func(a, b int) int { return cmp.Compare(b, a) })
	surplus := 0
	for i, l := range loads {
		q := base
		if i < extra {
			q++
		}
		surplus += max(0, l-q)
	}
	return orphans + surplus
}

// checkPlan verifies every rule Assign promises and returns the first
// broken one. prev must list each task once.
func checkPlan(workers []cluster.Worker, tasks []cluster.TaskID, prev cluster.Assignment, plan cluster.Plan) error {
	live := map[string]cluster.Worker{}
	var eligible []string
	for _, w := range workers {
		live[w.ID] = w
	}
	for id, w := range live {
		if !w.Away && !w.Draining {
			eligible = append(eligible, id)
		}
	}
	exists := map[cluster.TaskID]bool{}
	for _, t := range tasks {
		exists[t] = true
	}
	a := plan.Assignment

	// Every live worker is listed, nobody else; every task is placed exactly
	// once or unassigned.
	if len(a.Workers) != len(live) {
		return fmt.Errorf("assignment lists %d workers, %d are live", len(a.Workers), len(live))
	}
	seen := map[cluster.TaskID]string{}
	for w, slots := range a.Workers {
		if _, ok := live[w]; !ok {
			return fmt.Errorf("task on worker %s that is not live", w)
		}
		if !slices.IsSortedFunc(slots, func(x, y cluster.Slot) int { return x.Compare(y.TaskID) }) {
			return fmt.Errorf("slots of %s not sorted", w)
		}
		for _, s := range slots {
			if !exists[s.TaskID] {
				return fmt.Errorf("unknown task %s on %s", s.TaskID, w)
			}
			if o, dup := seen[s.TaskID]; dup {
				return fmt.Errorf("task %s on both %s and %s", s.TaskID, o, w)
			}
			seen[s.TaskID] = w
		}
	}
	for _, t := range plan.Unassigned {
		if o, dup := seen[t]; dup {
			return fmt.Errorf("task %s unassigned and on %s", t, o)
		}
		seen[t] = ""
	}
	if len(seen) != len(exists) {
		return fmt.Errorf("%d tasks placed or unassigned, %d exist", len(seen), len(exists))
	}

	prevOwner := owners(prev)
	newOwner := owners(a)
	if len(eligible) > 0 {
		if len(plan.Unassigned) > 0 {
			return fmt.Errorf("unassigned %v with eligible workers", plan.Unassigned)
		}
		lo, hi := -1, -1
		for _, w := range eligible {
			n := len(a.Workers[w])
			if lo < 0 || n < lo {
				lo = n
			}
			hi = max(hi, n)
		}
		if hi-lo > 1 {
			return fmt.Errorf("unbalanced: %d to %d tasks per eligible worker", lo, hi)
		}
	}
	for t, w := range newOwner {
		lw := live[w]
		if (lw.Away || lw.Draining) && prevOwner[t] != w {
			return fmt.Errorf("task %s given to %s, which is away or draining", t, w)
		}
	}
	for t, w := range prevOwner {
		if exists[t] && live[w].Away && newOwner[t] != w {
			return fmt.Errorf("task %s taken from %s during its grace", t, w)
		}
	}
	if got, want := plan.Relocated(), idealRelocations(workers, tasks, prev); got != want {
		return fmt.Errorf("relocated %d tasks, the least possible is %d", got, want)
	}

	// Moves turn prev into the new assignment; Changed and the generation
	// follow them; slots keep their generation while they stay.
	applied := map[cluster.TaskID]string{}
	for t, w := range prevOwner {
		applied[t] = w
	}
	for _, m := range plan.Moves {
		if applied[m.Task] != m.From {
			return fmt.Errorf("move %v: task was on %q", m, applied[m.Task])
		}
		if m.To == "" {
			delete(applied, m.Task)
		} else {
			applied[m.Task] = m.To
		}
	}
	if !maps.Equal(applied, newOwner) {
		return fmt.Errorf("moves %v do not turn prev into the new assignment", plan.Moves)
	}
	changed := !maps.Equal(prevOwner, newOwner)
	if plan.Changed != changed {
		return fmt.Errorf("Changed=%v, assignment changed: %v", plan.Changed, changed)
	}
	wantGen := prev.Generation
	if changed {
		wantGen++
	}
	if a.Generation != wantGen {
		return fmt.Errorf("generation %d, want %d", a.Generation, wantGen)
	}
	for w, slots := range a.Workers {
		for _, s := range slots {
			if prevOwner[s.TaskID] == w {
				_, old, _ := prev.Owner(s.TaskID)
				if old.Since > 0 && s.Since != old.Since {
					return fmt.Errorf("task %s stayed on %s but its generation went %d → %d", s.TaskID, w, old.Since, s.Since)
				}
			} else if s.Since != a.Generation {
				return fmt.Errorf("task %s placed on %s with generation %d, assignment is %d", s.TaskID, w, s.Since, a.Generation)
			}
		}
	}
	return nil
}
