package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
)

// Run runs the conformance suite against stores made by open.
func Run(t *testing.T, open func(t *testing.T) state.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s state.Store)
	}{
		{"ConnectorCRUD", testConnectorCRUD},
		{"RevisionIncreases", testRevisionIncreases},
		{"ConnectorsSorted", testConnectorsSorted},
		{"NotFound", testNotFound},
		{"DeleteKeepsOffsets", testDeleteKeepsOffsets},
		{"DeleteRemovesStatus", testDeleteRemovesStatus},
		{"OffsetsEmpty", testOffsetsEmpty},
		{"CommitMergesPartitions", testCommitMerges},
		{"PositionBytesRoundTrip", testPositionBytes},
		{"Fencing", testFencing},
		{"FencingAllOrNothing", testFencingAllOrNothing},
		{"FencingPerPartitionAndConnector", testFencingScope},
		{"AlterIgnoresGeneration", testAlterIgnoresGeneration},
		{"AlterNilPositionDeletes", testAlterNilPosition},
		{"AlterNilMapResets", testAlterNilMap},
		{"StatusOrder", testStatusOrder},
		{"StatusGeneration", testStatusGeneration},
		{"CopiesConnector", testCopiesConnector},
		{"CopiesOffsets", testCopiesOffsets},
		{"CopiesStatuses", testCopiesStatuses},
		{"Closed", testClosed},
		{"ConcurrentCommitsOwnPartitions", testConcurrentOwnPartitions},
		{"ConcurrentCommitsFencing", testConcurrentFencing},
		{"ConcurrentMixed", testConcurrentMixed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tt.fn(t, s)
		})
	}
}

// RunDurable checks that everything a store keeps survives Close and a
// reopen on the same directory: definitions, revisions (which keep
// growing), offsets with their generations (fencing still holds) and
// statuses with theirs.
func RunDurable(t *testing.T, open func(t *testing.T, dir string) state.Store) {
	t.Helper()
	t.Run("SurvivesReopen", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		dir := t.TempDir()

		s := open(t, dir)
		c := mustPut(t, s, state.Connector{Name: "orders", Config: cfg("source", "generator"), Target: state.TargetPaused})
		must(t, s.CommitOffsets(ctx, "orders", 7, pos("a", "1", "b", "2", "", "empty-name")))
		must(t, s.AlterOffsets(ctx, "orders", pos("c", "3")))
		must(t, s.CommitOffsets(ctx, "gone", 1, pos("x", "9")))
		mustPut(t, s, state.Connector{Name: "gone"})
		must(t, s.DeleteConnector(ctx, "gone"))
		st := state.Status{Connector: "orders", Task: 0, State: state.StateFailed, WorkerID: "w1", Trace: "boom", Generation: 7}
		must(t, s.PutStatus(ctx, st))
		retrying := state.Status{Connector: "orders", Task: 1, State: state.StateRunning, WorkerID: "w1", Trace: "write: connection refused",
			RetryingSince: time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC), Generation: 7}
		must(t, s.PutStatus(ctx, retrying))
		must(t, s.PutStatus(ctx, state.Status{Connector: "orders", Task: state.ConnectorTask, State: state.StateRunning, Generation: 7}))
		must(t, s.Close())

		s = open(t, dir)
		t.Cleanup(func() { _ = s.Close() })
		got, err := s.Connector(ctx, "orders")
		must(t, err)
		assertConnector(t, got, c)
		if _, err := s.Connector(ctx, "gone"); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("deleted connector after reopen: err = %v, want ErrNotFound", err)
		}
		assertOffsets(t, s, "orders", pos("a", "1", "b", "2", "", "empty-name", "c", "3"))
		assertOffsets(t, s, "gone", pos("x", "9"))
		if err := s.CommitOffsets(ctx, "orders", 6, pos("a", "zombie")); !errors.Is(err, state.ErrFenced) {
			t.Errorf("commit at older generation after reopen: err = %v, want ErrFenced", err)
		}
		sts, err := s.Statuses(ctx, "orders")
		must(t, err)
		if len(sts) != 3 || sts[0].Task != state.ConnectorTask || !sameStatus(sts[1], st) || !sameStatus(sts[2], retrying) {
			t.Errorf("statuses after reopen = %+v, want connector then %+v and %+v", sts, st, retrying)
		}
		must(t, s.PutStatus(ctx, state.Status{Connector: "orders", Task: 0, State: state.StateRunning, Generation: 6}))
		sts, err = s.Statuses(ctx, "orders")
		must(t, err)
		if sts[1].State != state.StateFailed {
			t.Errorf("older-generation status after reopen overwrote the stored one: %+v", sts[1])
		}
		c2 := mustPut(t, s, state.Connector{Name: "orders", Config: cfg("source", "generator")})
		if c2.Revision <= c.Revision {
			t.Errorf("revision after reopen = %d, want > %d", c2.Revision, c.Revision)
		}
		if !c2.Created.Equal(c.Created) {
			t.Errorf("Created after reopen and replace = %v, want %v", c2.Created, c.Created)
		}
	})
}

func testConnectorCRUD(t *testing.T, s state.Store) {
	ctx := context.Background()
	in := state.Connector{Name: "orders", Config: cfg("source", "generator", "sink", "file"), Target: state.TargetRunning}
	c1 := mustPut(t, s, in)
	if c1.Name != "orders" || c1.Target != state.TargetRunning || !maps.Equal(c1.Config, in.Config) {
		t.Errorf("PutConnector returned %+v, want the definition it was given", c1)
	}
	if c1.Revision <= 0 {
		t.Errorf("Revision = %d, want > 0", c1.Revision)
	}
	if c1.Created.IsZero() || c1.Updated.IsZero() {
		t.Errorf("Created/Updated not set: %v / %v", c1.Created, c1.Updated)
	}
	got, err := s.Connector(ctx, "orders")
	must(t, err)
	assertConnector(t, got, c1)

	// Replace: the config is replaced as a whole, Created is kept.
	c2 := mustPut(t, s, state.Connector{Name: "orders", Config: cfg("source", "kafka"), Target: state.TargetStopped})
	if c2.Revision <= c1.Revision {
		t.Errorf("Revision after replace = %d, want > %d", c2.Revision, c1.Revision)
	}
	if !c2.Created.Equal(c1.Created) {
		t.Errorf("Created changed on replace: %v → %v", c1.Created, c2.Created)
	}
	if c2.Updated.Before(c1.Updated) {
		t.Errorf("Updated went back on replace: %v → %v", c1.Updated, c2.Updated)
	}
	got, err = s.Connector(ctx, "orders")
	must(t, err)
	assertConnector(t, got, c2)
	if _, ok := got.Config["sink"]; ok {
		t.Errorf("replace kept an old key: %v", got.Config)
	}

	must(t, s.DeleteConnector(ctx, "orders"))
	if _, err := s.Connector(ctx, "orders"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Connector after delete: err = %v, want ErrNotFound", err)
	}
	all, err := s.Connectors(ctx)
	must(t, err)
	if len(all) != 0 {
		t.Errorf("Connectors after delete = %v, want none", names(all))
	}
}

func testRevisionIncreases(t *testing.T, s state.Store) {
	last := map[string]int64{}
	for i := range 20 {
		name := fmt.Sprintf("c%d", i%3)
		target := []state.TargetState{state.TargetRunning, state.TargetPaused, state.TargetStopped}[i%3]
		c := mustPut(t, s, state.Connector{Name: name, Config: cfg("i", fmt.Sprint(i)), Target: target})
		if c.Revision <= last[name] {
			t.Fatalf("put %d of %s: revision %d, want > %d", i, name, c.Revision, last[name])
		}
		last[name] = c.Revision
		got, err := s.Connector(context.Background(), name)
		must(t, err)
		if got.Revision != c.Revision || got.Target != target {
			t.Fatalf("Connector(%s) = rev %d target %s, want rev %d target %s", name, got.Revision, got.Target, c.Revision, target)
		}
	}
}

func testConnectorsSorted(t *testing.T, s state.Store) {
	all, err := s.Connectors(context.Background())
	must(t, err)
	if len(all) != 0 {
		t.Fatalf("empty store lists %v", names(all))
	}
	for _, n := range []string{"orders", "Zeta", "a-b", "a", "b", "a.b", "10", "9"} {
		mustPut(t, s, state.Connector{Name: n})
	}
	all, err = s.Connectors(context.Background())
	must(t, err)
	want := []string{"10", "9", "Zeta", "a", "a-b", "a.b", "b", "orders"}
	if got := names(all); !slices.Equal(got, want) {
		t.Errorf("Connectors = %v, want %v", got, want)
	}
}

func testNotFound(t *testing.T, s state.Store) {
	ctx := context.Background()
	if _, err := s.Connector(ctx, "nope"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Connector(missing): err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteConnector(ctx, "nope"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("DeleteConnector(missing): err = %v, want ErrNotFound", err)
	}
	mustPut(t, s, state.Connector{Name: "once"})
	must(t, s.DeleteConnector(ctx, "once"))
	if err := s.DeleteConnector(ctx, "once"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("second DeleteConnector: err = %v, want ErrNotFound", err)
	}
}

func testDeleteKeepsOffsets(t *testing.T, s state.Store) {
	ctx := context.Background()
	mustPut(t, s, state.Connector{Name: "orders"})
	must(t, s.CommitOffsets(ctx, "orders", 1, pos("p0", "100", "p1", "200")))
	must(t, s.DeleteConnector(ctx, "orders"))
	assertOffsets(t, s, "orders", pos("p0", "100", "p1", "200"))
	mustPut(t, s, state.Connector{Name: "orders"})
	assertOffsets(t, s, "orders", pos("p0", "100", "p1", "200"))
}

func testDeleteRemovesStatus(t *testing.T, s state.Store) {
	ctx := context.Background()
	mustPut(t, s, state.Connector{Name: "orders"})
	must(t, s.PutStatus(ctx, state.Status{Connector: "orders", Task: state.ConnectorTask, State: state.StateRunning, Generation: 1}))
	must(t, s.PutStatus(ctx, state.Status{Connector: "orders", Task: 0, State: state.StateRunning, Generation: 1}))
	must(t, s.DeleteConnector(ctx, "orders"))
	sts, err := s.Statuses(ctx, "orders")
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("Statuses after delete: %v", err)
	}
	if len(sts) != 0 {
		t.Errorf("Statuses after delete = %+v, want none", sts)
	}
}

func testOffsetsEmpty(t *testing.T, s state.Store) {
	got, err := s.Offsets(context.Background(), "never-committed")
	if err != nil {
		t.Fatalf("Offsets of a connector without offsets: %v, want an empty map", err)
	}
	if got == nil || len(got) != 0 {
		t.Errorf("Offsets = %#v, want an empty non-nil map", got)
	}
}

func testCommitMerges(t *testing.T, s state.Store) {
	ctx := context.Background()
	must(t, s.CommitOffsets(ctx, "orders", 1, pos("a", "1", "b", "1")))
	must(t, s.CommitOffsets(ctx, "orders", 1, pos("a", "2")))
	must(t, s.CommitOffsets(ctx, "orders", 1, map[string]api.Position{}))
	assertOffsets(t, s, "orders", pos("a", "2", "b", "1"))
	assertOffsets(t, s, "other", pos())
}

func testPositionBytes(t *testing.T, s state.Store) {
	ctx := context.Background()
	in := map[string]api.Position{
		"":             api.Position("empty partition name is valid"),
		"binary":       {0x00, 0xff, 0x80, 0x00},
		"zero-length":  {},
		"utf8 ünïcødé": api.Position("mysql-bin.000042:1234"),
		"long":         bytes.Repeat([]byte{0xab}, 4096),
	}
	must(t, s.CommitOffsets(ctx, "orders", 1, in))
	assertOffsets(t, s, "orders", in)
}

func testFencing(t *testing.T, s state.Store) {
	ctx := context.Background()
	must(t, s.CommitOffsets(ctx, "orders", 5, pos("a", "gen5")))
	steps := []struct {
		gen    int64
		value  string
		fenced bool
	}{
		{4, "gen4", true},
		{0, "gen0", true},
		{5, "gen5-again", false}, // equal generation overwrites
		{6, "gen6", false},       // newer generation overwrites
		{5, "gen5-zombie", true}, // and now fences generation 5
		{6, "gen6-again", false},
	}
	want := "gen5"
	for _, st := range steps {
		err := s.CommitOffsets(ctx, "orders", st.gen, pos("a", st.value))
		if st.fenced {
			if !errors.Is(err, state.ErrFenced) {
				t.Fatalf("commit at generation %d: err = %v, want ErrFenced", st.gen, err)
			}
		} else {
			must(t, err)
			want = st.value
		}
		assertOffsets(t, s, "orders", pos("a", want))
	}
}

func testFencingAllOrNothing(t *testing.T, s state.Store) {
	ctx := context.Background()
	must(t, s.CommitOffsets(ctx, "orders", 1, pos("a", "a1", "b", "b1")))
	must(t, s.CommitOffsets(ctx, "orders", 3, pos("b", "b3")))
	// a and the new c would be accepted at generation 2, b would not: the
	// whole call must fail and write nothing.
	err := s.CommitOffsets(ctx, "orders", 2, pos("a", "a2", "b", "b2", "c", "c2"))
	if !errors.Is(err, state.ErrFenced) {
		t.Fatalf("err = %v, want ErrFenced", err)
	}
	assertOffsets(t, s, "orders", pos("a", "a1", "b", "b3"))
}

func testFencingScope(t *testing.T, s state.Store) {
	ctx := context.Background()
	must(t, s.CommitOffsets(ctx, "orders", 9, pos("a", "a9")))
	// Another partition of the same connector, and the same partition of
	// another connector, are not fenced by generation 9.
	must(t, s.CommitOffsets(ctx, "orders", 1, pos("b", "b1")))
	must(t, s.CommitOffsets(ctx, "users", 1, pos("a", "a1")))
	assertOffsets(t, s, "orders", pos("a", "a9", "b", "b1"))
	assertOffsets(t, s, "users", pos("a", "a1"))
}

func testAlterIgnoresGeneration(t *testing.T, s state.Store) {
	ctx := context.Background()
	must(t, s.CommitOffsets(ctx, "orders", 5, pos("a", "a5")))
	must(t, s.AlterOffsets(ctx, "orders", pos("a", "operator", "new", "n")))
	assertOffsets(t, s, "orders", pos("a", "operator", "new", "n"))
	// The stored generation is kept: a zombie is still fenced, the owner
	// still commits.
	if err := s.CommitOffsets(ctx, "orders", 4, pos("a", "a4")); !errors.Is(err, state.ErrFenced) {
		t.Errorf("commit at generation 4 after alter: err = %v, want ErrFenced", err)
	}
	must(t, s.CommitOffsets(ctx, "orders", 5, pos("a", "a5b")))
	assertOffsets(t, s, "orders", pos("a", "a5b", "new", "n"))
}

func testAlterNilPosition(t *testing.T, s state.Store) {
	ctx := context.Background()
	must(t, s.CommitOffsets(ctx, "orders", 1, pos("a", "1", "b", "2")))
	must(t, s.AlterOffsets(ctx, "orders", map[string]api.Position{"a": nil, "missing": nil}))
	assertOffsets(t, s, "orders", pos("b", "2"))
	must(t, s.AlterOffsets(ctx, "orders", map[string]api.Position{"b": nil}))
	assertOffsets(t, s, "orders", pos())
}

func testAlterNilMap(t *testing.T, s state.Store) {
	ctx := context.Background()
	must(t, s.CommitOffsets(ctx, "orders", 1, pos("a", "1", "b", "2")))
	must(t, s.CommitOffsets(ctx, "users", 1, pos("a", "1")))
	must(t, s.AlterOffsets(ctx, "orders", nil))
	assertOffsets(t, s, "orders", pos())
	assertOffsets(t, s, "users", pos("a", "1"))
	// An empty, non-nil map changes nothing.
	must(t, s.AlterOffsets(ctx, "users", map[string]api.Position{}))
	assertOffsets(t, s, "users", pos("a", "1"))
	// Resetting what has no offsets is not an error.
	must(t, s.AlterOffsets(ctx, "never", nil))
}

func testStatusOrder(t *testing.T, s state.Store) {
	ctx := context.Background()
	put := []state.Status{
		{Connector: "orders", Task: 10, State: state.StateRunning, WorkerID: "w2", Generation: 1},
		{Connector: "orders", Task: 2, State: state.StateFailed, WorkerID: "w1", Trace: "boom\n\tat line 1", Generation: 1},
		{Connector: "orders", Task: state.ConnectorTask, State: state.StateRunning, WorkerID: "w1", Generation: 1},
		{Connector: "orders", Task: 0, State: state.StateUnassigned, Generation: 1},
		{Connector: "orders", Task: 1, State: state.StateFinished, WorkerID: "w2", Generation: 1},
		{Connector: "users", Task: 0, State: state.StatePaused, Generation: 1},
	}
	for _, st := range put {
		must(t, s.PutStatus(ctx, st))
	}
	got, err := s.Statuses(ctx, "orders")
	must(t, err)
	var tasks []int
	for _, st := range got {
		tasks = append(tasks, st.Task)
	}
	if want := []int{state.ConnectorTask, 0, 1, 2, 10}; !slices.Equal(tasks, want) {
		t.Fatalf("Statuses order = %v, want %v", tasks, want)
	}
	for _, st := range got {
		for _, p := range put {
			if p.Connector == st.Connector && p.Task == st.Task && !sameStatus(st, p) {
				t.Errorf("status of task %d = %+v, want %+v", st.Task, st, p)
			}
		}
		if st.Updated.IsZero() {
			t.Errorf("status of task %d has no Updated time", st.Task)
		}
	}
}

func testStatusGeneration(t *testing.T, s state.Store) {
	ctx := context.Background()
	steps := []struct {
		task  int
		gen   int64
		state state.State
		want  state.State // stored state of that task afterwards
	}{
		{0, 3, state.StateRunning, state.StateRunning},
		{0, 2, state.StateFailed, state.StateRunning},        // older: ignored
		{0, 3, state.StateFailed, state.StateFailed},         // equal: overwrites
		{0, 4, state.StateRestarting, state.StateRestarting}, // newer: overwrites
		{1, 1, state.StateRunning, state.StateRunning},       // per task, not per connector
		{state.ConnectorTask, 1, state.StatePaused, state.StatePaused},
		{state.ConnectorTask, 0, state.StateFailed, state.StatePaused},
	}
	for i, st := range steps {
		if err := s.PutStatus(ctx, state.Status{Connector: "orders", Task: st.task, State: st.state, Generation: st.gen}); err != nil {
			t.Fatalf("step %d: PutStatus: %v (an older generation is ignored, not an error)", i, err)
		}
		sts, err := s.Statuses(ctx, "orders")
		must(t, err)
		found := false
		for _, got := range sts {
			if got.Task == st.task {
				found = true
				if got.State != st.want {
					t.Errorf("step %d: task %d state = %s, want %s", i, st.task, got.State, st.want)
				}
			}
		}
		if !found {
			t.Errorf("step %d: task %d missing from %+v", i, st.task, sts)
		}
	}
}

func testCopiesConnector(t *testing.T, s state.Store) {
	ctx := context.Background()
	in := cfg("k", "v")
	c := mustPut(t, s, state.Connector{Name: "orders", Config: in})
	in["k"], in["added"] = "changed-input", "x"
	c.Config["k"] = "changed-result"
	got, err := s.Connector(ctx, "orders")
	must(t, err)
	got.Config["k"] = "changed-get"
	all, err := s.Connectors(ctx)
	must(t, err)
	all[0].Config["k"] = "changed-list"
	all[0].Name = "renamed"
	got, err = s.Connector(ctx, "orders")
	must(t, err)
	if !maps.Equal(got.Config, cfg("k", "v")) {
		t.Errorf("config = %v after mutating maps the store handed out or was given, want %v", got.Config, cfg("k", "v"))
	}
}

func testCopiesOffsets(t *testing.T, s state.Store) {
	ctx := context.Background()
	in := pos("a", "1")
	must(t, s.CommitOffsets(ctx, "orders", 1, in))
	in["a"][0] = 'X'
	in["b"] = api.Position("2")
	got, err := s.Offsets(ctx, "orders")
	must(t, err)
	got["a"][0] = 'Y'
	got["c"] = api.Position("3")
	alter := pos("d", "4")
	must(t, s.AlterOffsets(ctx, "orders", alter))
	alter["d"][0] = 'Z'
	assertOffsets(t, s, "orders", pos("a", "1", "d", "4"))
}

func testCopiesStatuses(t *testing.T, s state.Store) {
	ctx := context.Background()
	must(t, s.PutStatus(ctx, state.Status{Connector: "orders", Task: 0, State: state.StateRunning, Generation: 1}))
	got, err := s.Statuses(ctx, "orders")
	must(t, err)
	got[0].State = state.StateFailed
	got, err = s.Statuses(ctx, "orders")
	must(t, err)
	if got[0].State != state.StateRunning {
		t.Errorf("status changed by mutating a returned slice: %+v", got[0])
	}
}

func testClosed(t *testing.T, s state.Store) {
	ctx := context.Background()
	mustPut(t, s, state.Connector{Name: "orders"})
	must(t, s.Close())
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil (idempotent)", err)
	}
	calls := map[string]func() error{
		"PutConnector":    func() error { _, err := s.PutConnector(ctx, state.Connector{Name: "x"}); return err },
		"DeleteConnector": func() error { return s.DeleteConnector(ctx, "orders") },
		"Connector":       func() error { _, err := s.Connector(ctx, "orders"); return err },
		"Connectors":      func() error { _, err := s.Connectors(ctx); return err },
		"CommitOffsets":   func() error { return s.CommitOffsets(ctx, "orders", 1, pos("a", "1")) },
		"Offsets":         func() error { _, err := s.Offsets(ctx, "orders"); return err },
		"AlterOffsets":    func() error { return s.AlterOffsets(ctx, "orders", nil) },
		"PutStatus": func() error {
			return s.PutStatus(ctx, state.Status{Connector: "orders", Task: 0, State: state.StateRunning})
		},
		"Statuses": func() error { _, err := s.Statuses(ctx, "orders"); return err },
	}
	for _, name := range slices.Sorted(maps.Keys(calls)) {
		if err := calls[name](); !errors.Is(err, state.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
}

// testConcurrentOwnPartitions: many tasks of one generation commit their
// own partitions at once; every commit succeeds and the last one of each
// partition wins.
func testConcurrentOwnPartitions(t *testing.T, s state.Store) {
	ctx := context.Background()
	const workers, commits = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range commits {
				p := fmt.Sprintf("p%02d", w)
				if err := s.CommitOffsets(ctx, "orders", 1, pos(p, fmt.Sprint(i), p+"-shadow", fmt.Sprint(i))); err != nil {
					errs <- fmt.Errorf("worker %d commit %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := map[string]api.Position{}
	for w := range workers {
		want[fmt.Sprintf("p%02d", w)] = api.Position(fmt.Sprint(commits - 1))
		want[fmt.Sprintf("p%02d-shadow", w)] = api.Position(fmt.Sprint(commits - 1))
	}
	assertOffsets(t, s, "orders", want)
}

// testConcurrentFencing: tasks of several generations race on the same
// partitions. Only ErrFenced may fail a commit, the highest generation is
// never fenced, and each partition ends holding a position written by the
// highest generation.
func testConcurrentFencing(t *testing.T, s state.Store) {
	ctx := context.Background()
	const gens, perGen, commits = 4, 3, 20
	parts := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	errs := make(chan error, gens*perGen)
	for g := int64(1); g <= gens; g++ {
		for w := range perGen {
			wg.Go(func() {
				for i := range commits {
					offs := map[string]api.Position{}
					for _, p := range parts {
						offs[p] = api.Position(fmt.Sprintf("g%d-w%d-%d", g, w, i))
					}
					err := s.CommitOffsets(ctx, "orders", g, offs)
					if err != nil && (!errors.Is(err, state.ErrFenced) || g == gens) {
						errs <- fmt.Errorf("generation %d worker %d commit %d: %w", g, w, i, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := s.Offsets(ctx, "orders")
	must(t, err)
	var first string
	for _, p := range parts {
		v := string(got[p])
		if !bytes.HasPrefix(got[p], fmt.Appendf(nil, "g%d-", gens)) {
			t.Errorf("partition %s = %q, want a position of generation %d", p, v, gens)
		}
		// All-or-nothing commits of all three partitions: they end equal.
		if first == "" {
			first = v
		} else if v != first {
			t.Errorf("partitions diverged: %q vs %q (a commit was applied partially)", first, v)
		}
	}
}

// testConcurrentMixed runs every kind of call at once, for the race
// detector, then checks the final state is consistent.
func testConcurrentMixed(t *testing.T, s state.Store) {
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 6*n)
	for i := range n {
		name := fmt.Sprintf("c%d", i)
		wg.Go(func() {
			for j := range 10 {
				if _, err := s.PutConnector(ctx, state.Connector{Name: name, Config: cfg("j", fmt.Sprint(j))}); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for j := range 10 {
				st := state.Status{Connector: name, Task: j % 3, State: state.StateRunning, Generation: int64(j)}
				if err := s.PutStatus(ctx, st); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for j := range 10 {
				if err := s.CommitOffsets(ctx, name, int64(j), pos("p", fmt.Sprint(j))); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for range 10 {
				if _, err := s.Connectors(ctx); err != nil {
					errs <- err
					return
				}
				if _, err := s.Offsets(ctx, name); err != nil {
					errs <- err
					return
				}
				if _, err := s.Statuses(ctx, name); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	all, err := s.Connectors(ctx)
	must(t, err)
	if len(all) != n {
		t.Fatalf("%d connectors, want %d", len(all), n)
	}
	for _, c := range all {
		if c.Config["j"] != "9" {
			t.Errorf("%s config = %v, want the last put (j=9)", c.Name, c.Config)
		}
		assertOffsets(t, s, c.Name, pos("p", "9"))
		sts, err := s.Statuses(ctx, c.Name)
		must(t, err)
		if len(sts) != 3 {
			t.Errorf("%s has %d statuses, want 3", c.Name, len(sts))
		}
	}
}

// Helpers.

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustPut(t *testing.T, s state.Store, c state.Connector) state.Connector {
	t.Helper()
	got, err := s.PutConnector(context.Background(), c)
	must(t, err)
	return got
}

// cfg builds a config from key, value pairs.
func cfg(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// pos builds offsets from partition, position pairs.
func pos(kv ...string) map[string]api.Position {
	m := map[string]api.Position{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = api.Position(kv[i+1])
	}
	return m
}

func names(cs []state.Connector) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func assertConnector(t *testing.T, got, want state.Connector) {
	t.Helper()
	if got.Name != want.Name || got.Target != want.Target || got.Revision != want.Revision ||
		!maps.Equal(got.Config, want.Config) || !got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) {
		t.Errorf("connector = %+v, want %+v", got, want)
	}
}

func assertOffsets(t *testing.T, s state.Store, connector string, want map[string]api.Position) {
	t.Helper()
	got, err := s.Offsets(context.Background(), connector)
	must(t, err)
	if !maps.EqualFunc(got, want, func(a, b api.Position) bool { return bytes.Equal(a, b) && (a == nil) == (b == nil) }) {
		t.Errorf("offsets of %s = %s, want %s", connector, fmtOffsets(got), fmtOffsets(want))
	}
}

func fmtOffsets(m map[string]api.Position) string {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %q", k, m[k])
	}
	b.WriteByte('}')
	return b.String()
}

// sameStatus compares what the caller put (Updated excepted: the store may
// stamp it).
func sameStatus(got, want state.Status) bool {
	return got.Connector == want.Connector && got.Task == want.Task && got.State == want.State &&
		got.WorkerID == want.WorkerID && got.Trace == want.Trace && got.Generation == want.Generation &&
		got.RetryingSince.Equal(want.RetryingSince)
}
