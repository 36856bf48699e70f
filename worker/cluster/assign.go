package cluster

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// TaskID names one task of one connector.
type TaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// String renders the task as "connector/index" for logs and test files.
func (t TaskID) String() string { return t.Connector + "/" + strconv.Itoa(t.Task) }

// Compare orders tasks by connector name, then index.
func (t TaskID) Compare(u TaskID) int {
	if c := cmp.Compare(t.Connector, u.Connector); c != 0 {
		return c
	}
	return cmp.Compare(t.Task, u.Task)
}

// Worker is one worker as the assignment sees it.
type Worker struct {
	ID string
	// Start is when the worker process started; the leader is the oldest
	// live worker. Assignment itself does not use it.
	Start time.Time
	// Draining workers are leaving: their tasks move now and they receive
	// none (unless no worker is left to take them).
	Draining bool
	// Away marks a departed worker still inside its grace period (see
	// InGrace): it keeps the tasks it had, receives none, and is left out
	// of the balance.
	Away bool
}

// Slot is one task placed on a worker.
type Slot struct {
	TaskID
	// Since is the generation of the assignment that gave the task to
	// this worker. A run of the task commits with the generation current
	// when it started, which is never lower (see the package doc).
	Since int64 `json:"since"`
}

// Assignment maps every worker to the tasks it runs.
type Assignment struct {
	// Generation increases by one with every assignment that changes
	// where some task runs.
	Generation int64 `json:"generation"`
	// Workers has one entry per live worker given to Assign (empty slice
	// when it runs nothing), each sorted by task.
	Workers map[string][]Slot `json:"workers"`
}

// Owner returns the worker a task is assigned to and its slot.
func (a Assignment) Owner(t TaskID) (string, Slot, bool) {
	for w, slots := range a.Workers {
		if i, ok := slices.BinarySearchFunc(slots, t, func(s Slot, t TaskID) int { return s.Compare(t) }); ok {
			return w, slots[i], true
		}
	}
	return "", Slot{}, false
}

// Move is one change of a task's placement: From loses it, To gains it.
// From is empty for a task that ran nowhere (new, or unassigned before);
// To is empty for a task that runs nowhere now (deleted, or no worker can
// take it).
type Move struct {
	Task     TaskID
	From, To string
}

// Plan is the result of Assign.
type Plan struct {
	Assignment Assignment
	// Changed reports whether any task changed place; Generation is the
	// previous one plus one exactly when it did.
	Changed bool
	// Moves lists every placement change, sorted by task then From.
	Moves []Move
	// Unassigned lists the tasks no worker can take (no eligible worker).
	Unassigned []TaskID
}

// Revoked returns the tasks the worker must stop, sorted.
func (p Plan) Revoked(worker string) []TaskID {
	return p.tasks(func(m Move) bool { return m.From == worker })
}

// Assigned returns the tasks the worker must start, sorted.
func (p Plan) Assigned(worker string) []TaskID {
	return p.tasks(func(m Move) bool { return m.To == worker })
}

func (p Plan) tasks(keep func(Move) bool) []TaskID {
	var out []TaskID
	for _, m := range p.Moves {
		if keep(m) {
			out = append(out, m.Task)
		}
	}
	return out
}

// Relocated counts the tasks taken from one worker and given to another:
// the tasks that restart elsewhere.
func (p Plan) Relocated() int {
	n := 0
	for _, m := range p.Moves {
		if m.From != "" && m.To != "" {
			n++
		}
	}
	return n
}

// worker classes, in the order a contested task prefers its holder.
const (
	classEligible = iota
	classAway
	classDraining
	classGone
)

// Assign computes the next assignment from the live workers, the full task
// list and the previous assignment. It is a pure function: the same input
// gives the same output whatever the order of the slices and maps in it.
//
// The rules, in order:
//   - A task stays where it is when its worker is live, not draining, and
//     not above its fair share; a worker that is Away keeps its tasks.
//   - Tasks of departed and draining workers, new tasks, and the surplus
//     of overloaded workers go to the workers below their fair share, so
//     that every eligible worker ends with ⌊n/k⌋ or ⌈n/k⌉ tasks (n tasks
//     not held by Away workers, k eligible workers). The ⌈n/k⌉ places go
//     first to the workers that already hold more than ⌊n/k⌋, which makes
//     the number of relocated tasks the least possible.
//   - Among equally good choices, a connector's tasks spread over
//     workers: a worker gives up the tasks of the connector it holds most
//     of, and a task goes to the worker holding fewest of its connector.
//   - Without eligible workers, draining workers keep their tasks and the
//     rest are Unassigned.
//
// A task listed on several workers in prev is kept by the best of them
// (eligible, then away, then draining, then by ID) and revoked from the
// others. An error reports invalid input: an empty worker ID, an empty
// connector name or a negative task index.
func Assign(workers []Worker, tasks []TaskID, prev Assignment) (Plan, error) {
	live, err := normalizeWorkers(workers)
	if err != nil {
		return Plan{}, err
	}
	all, err := normalizeTasks(tasks)
	if err != nil {
		return Plan{}, err
	}
	gen := prev.Generation + 1 // used for new slots; dropped if nothing changes

	classOf := func(id string) int {
		if w, ok := live[id]; ok {
			switch {
			case w.Away:
				return classAway
			case w.Draining:
				return classDraining
			}
			return classEligible
		}
		return classGone
	}

	// Holders of every task in prev, best first.
	type holder struct {
		worker string
		since  int64
	}
	holders := make(map[TaskID][]holder)
	var moves []Move
	for _, id := range sortedKeys(prev.Workers) {
		for _, s := range prev.Workers[id] {
			if _, ok := slices.BinarySearchFunc(all, s.TaskID, TaskID.Compare); !ok {
				moves = append(moves, Move{Task: s.TaskID, From: id}) // deleted task
				continue
			}
			since := s.Since
			if since <= 0 {
				since = prev.Generation
			}
			holders[s.TaskID] = append(holders[s.TaskID], holder{id, since})
		}
	}

	var eligible []string
	for _, id := range sortedKeys(live) {
		if classOf(id) == classEligible {
			eligible = append(eligible, id)
		}
	}

	st := newPlacement(live)
	var pool []Move // tasks to place; From is the holder it is taken from
	for _, t := range all {
		hs := holders[t]
		if len(hs) == 0 {
			pool = append(pool, Move{Task: t})
			continue
		}
		// Dedupe (a worker may list a task twice) and rank the holders.
		slices.SortFunc(hs, func(a, b holder) int {
			if c := cmp.Compare(classOf(a.worker), classOf(b.worker)); c != 0 {
				return c
			}
			return cmp.Compare(a.worker, b.worker)
		})
		hs = slices.CompactFunc(hs, func(a, b holder) bool { return a.worker == b.worker })
		best := hs[0]
		for _, h := range hs[1:] {
			moves = append(moves, Move{Task: t, From: h.worker})
		}
		switch c := classOf(best.worker); {
		case c == classEligible, c == classAway,
			c == classDraining && len(eligible) == 0:
			st.put(best.worker, Slot{TaskID: t, Since: best.since})
			if c == classAway || c == classDraining {
				st.frozen++
			}
		default:
			pool = append(pool, Move{Task: t, From: best.worker})
		}
	}

	var unassigned []TaskID
	if len(eligible) == 0 {
		for _, m := range pool {
			unassigned = append(unassigned, m.Task)
			if m.From != "" {
				moves = append(moves, m)
			}
		}
	} else {
		pool = st.balance(eligible, len(all)-st.frozen, pool)
		for _, m := range pool {
			m.To = st.place(eligible, m.Task, gen)
			moves = append(moves, m)
		}
	}

	slices.SortFunc(moves, func(a, b Move) int {
		if c := a.Task.Compare(b.Task); c != 0 {
			return c
		}
		return cmp.Compare(a.From, b.From)
	})

	plan := Plan{Moves: moves, Unassigned: unassigned, Changed: len(moves) > 0}
	plan.Assignment = Assignment{Generation: prev.Generation, Workers: st.result()}
	if plan.Changed {
		plan.Assignment.Generation = gen
	}
	return plan, nil
}

func normalizeWorkers(workers []Worker) (map[string]Worker, error) {
	live := make(map[string]Worker, len(workers))
	for _, w := range workers {
		if w.ID == "" {
			return nil, fmt.Errorf("%w: empty worker id", ErrInvalidInput)
		}
		if old, ok := live[w.ID]; ok {
			// The same worker twice: the safest reading of both.
			w.Draining = w.Draining || old.Draining
			w.Away = w.Away || old.Away
			if old.Start.Before(w.Start) {
				w.Start = old.Start
			}
		}
		live[w.ID] = w
	}
	return live, nil
}

func normalizeTasks(tasks []TaskID) ([]TaskID, error) {
	all := slices.Clone(tasks)
	for _, t := range all {
		if t.Connector == "" || t.Task < 0 {
			return nil, fmt.Errorf("%w: task %q", ErrInvalidInput, t.String())
		}
	}
	slices.SortFunc(all, TaskID.Compare)
	return slices.Compact(all), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// placement is the assignment under construction.
type placement struct {
	slots  map[string][]Slot         // worker → slots, in placement order
	conn   map[string]map[string]int // worker → connector → tasks held
	frozen int                       // tasks held by away or draining workers
	base   int                       // every eligible worker's share ⌊n/k⌋
	extra  int                       // ⌈n/k⌉ places not yet taken
}

func newPlacement(live map[string]Worker) *placement {
	p := &placement{slots: make(map[string][]Slot, len(live)), conn: make(map[string]map[string]int, len(live))}
	for id := range live {
		p.slots[id] = nil
		p.conn[id] = make(map[string]int)
	}
	return p
}

func (p *placement) put(w string, s Slot) {
	p.slots[w] = append(p.slots[w], s)
	p.conn[w][s.Connector]++
}

// balance fixes every eligible worker's share of n tasks, takes the
// surplus off overloaded workers and returns pool with it added.
func (p *placement) balance(eligible []string, n int, pool []Move) []Move {
	k := len(eligible)
	base, extra := n/k, n%k
	// The ⌈n/k⌉ places go to workers already above ⌊n/k⌋ (the fullest
	// first): each such place is one task that need not leave its worker.
	byLoad := slices.Clone(eligible)
	slices.SortStableFunc(byLoad, func(a, b string) int { return cmp.Compare(len(p.slots[b]), len(p.slots[a])) })
	pooled := make(map[string]int) // connector → its tasks in the pool
	for _, m := range pool {
		pooled[m.Task.Connector]++
	}
	for _, w := range byLoad {
		quota := base
		if len(p.slots[w]) > base && extra > 0 {
			quota = base + 1
			extra--
		}
		if surplus := len(p.slots[w]) - quota; surplus > 0 {
			for _, s := range p.surrender(w, surplus, pooled) {
				pool = append(pool, Move{Task: s.TaskID, From: w})
			}
		}
	}
	p.extra = extra
	p.base = base
	slices.SortFunc(pool, func(a, b Move) int { return a.Task.Compare(b.Task) })
	return pool
}

// surrender takes n slots off the worker and returns them. Each is a task
// of the connector the worker holds most of; among those, of the connector
// with fewest tasks already in the pool (so that the receivers do not all
// get the same connector); then the greatest connector name; the greatest
// task index of it.
func (p *placement) surrender(w string, n int, pooled map[string]int) []Slot {
	type group struct {
		conn   string
		slots  []Slot // sorted: the last one goes first
		pooled int
	}
	// One pass builds the groups; choosing is then a scan of a slice, not
	// of map lookups, which keeps 1,000s of tasks per worker fast.
	idx := make(map[string]int)
	var groups []group
	for _, s := range p.slots[w] {
		i, ok := idx[s.Connector]
		if !ok {
			i = len(groups)
			idx[s.Connector] = i
			groups = append(groups, group{conn: s.Connector, pooled: pooled[s.Connector]})
		}
		groups[i].slots = append(groups[i].slots, s)
	}
	for i := range groups {
		slices.SortFunc(groups[i].slots, func(a, b Slot) int { return a.Compare(b.TaskID) })
	}
	out := make([]Slot, 0, n)
	for range n {
		best := -1
		for i, g := range groups {
			if len(g.slots) == 0 {
				continue
			}
			if best < 0 {
				best = i
				continue
			}
			b := groups[best]
			if c := cmp.Or(
				cmp.Compare(len(g.slots), len(b.slots)),
				cmp.Compare(b.pooled, g.pooled),
				cmp.Compare(g.conn, b.conn),
			); c > 0 {
				best = i
			}
		}
		g := &groups[best]
		last := g.slots[len(g.slots)-1]
		g.slots = g.slots[:len(g.slots)-1]
		g.pooled++
		pooled[last.Connector]++
		p.conn[w][last.Connector]--
		out = append(out, last)
	}
	kept := p.slots[w][:0]
	for _, g := range groups {
		kept = append(kept, g.slots...)
	}
	p.slots[w] = kept
	return out
}

// place gives the task to the eligible worker still below its share that
// holds fewest tasks of its connector (ties: fewest tasks, then ID).
func (p *placement) place(eligible []string, t TaskID, gen int64) string {
	best := ""
	for _, w := range eligible {
		n := len(p.slots[w])
		if n > p.base || n == p.base && p.extra == 0 {
			continue
		}
		if best == "" {
			best = w
			continue
		}
		cw, cb := p.conn[w][t.Connector], p.conn[best][t.Connector]
		if cw < cb || cw == cb && n < len(p.slots[best]) {
			best = w
		}
	}
	if len(p.slots[best]) == p.base {
		p.extra--
	}
	p.put(best, Slot{TaskID: t, Since: gen})
	return best
}

func (p *placement) result() map[string][]Slot {
	out := make(map[string][]Slot, len(p.slots))
	for w, slots := range p.slots {
		s := slices.Clone(slots)
		if s == nil {
			s = []Slot{}
		}
		slices.SortFunc(s, func(a, b Slot) int { return a.Compare(b.TaskID) })
		out[w] = s
	}
	return out
}
