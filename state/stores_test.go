package state_test

import (
	"context"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
)

// Promises Memory and Bolt make beyond the Store contract, checked on both.

type storeMaker struct {
	name string
	open func(t *testing.T, now func() time.Time) state.Store
}

var makers = []storeMaker{
	{"Memory", func(t *testing.T, now func() time.Time) state.Store { return state.NewMemory(state.WithClock(now)) }},
	{"Bolt", func(t *testing.T, now func() time.Time) state.Store {
		s, err := state.OpenBolt(t.TempDir()+"/ferry.db", state.WithClock(now))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

// fakeClock returns a clock that advances one second per reading, from t0.
func fakeClock(t0 time.Time) func() time.Time {
	now := t0
	return func() time.Time { now = now.Add(time.Second); return now }
}

func forEachStore(t *testing.T, fn func(t *testing.T, s state.Store)) {
	t.Helper()
	for _, m := range makers {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := m.open(t, fakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
			t.Cleanup(func() { _ = s.Close() })
			fn(t, s)
		})
	}
}

func TestStoreClock(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s state.Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		c1, err := s.PutConnector(ctx, state.Connector{Name: "a"})
		if err != nil {
			t.Fatal(err)
		}
		c2, err := s.PutConnector(ctx, state.Connector{Name: "a"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Connector(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []state.Connector{c2, got} {
			if !c.Created.Equal(t0.Add(time.Second)) || !c.Updated.Equal(t0.Add(2*time.Second)) {
				t.Errorf("Created/Updated = %v/%v, want %v/%v", c.Created, c.Updated, t0.Add(time.Second), t0.Add(2*time.Second))
			}
		}
		if !c1.Updated.Equal(t0.Add(time.Second)) {
			t.Errorf("first Updated = %v", c1.Updated)
		}

		given := time.Date(2025, 5, 5, 5, 5, 5, 5, time.UTC)
		if err := s.PutStatus(ctx, state.Status{Connector: "a", Task: 0, State: state.StateRunning, Updated: given}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutStatus(ctx, state.Status{Connector: "a", Task: 1, State: state.StateRunning}); err != nil {
			t.Fatal(err)
		}
		sts, err := s.Statuses(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if !sts[0].Updated.Equal(given) {
			t.Errorf("given Updated replaced: %v", sts[0].Updated)
		}
		if !sts[1].Updated.Equal(t0.Add(3 * time.Second)) {
			t.Errorf("zero Updated stamped as %v, want the store clock %v", sts[1].Updated, t0.Add(3*time.Second))
		}
	})
}

func TestStoreRevisionAcrossRecreate(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s state.Store) {
		ctx := context.Background()
		c1, _ := s.PutConnector(ctx, state.Connector{Name: "a"})
		if err := s.DeleteConnector(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		c2, err := s.PutConnector(ctx, state.Connector{Name: "a"})
		if err != nil {
			t.Fatal(err)
		}
		if c2.Revision <= c1.Revision {
			t.Errorf("revision after re-create = %d, want > %d (store-wide counter)", c2.Revision, c1.Revision)
		}
	})
}

func TestStoreRejectsInvalid(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s state.Store) {
		ctx := context.Background()
		checks := map[string]error{
			"PutConnector without name":  func() error { _, err := s.PutConnector(ctx, state.Connector{}); return err }(),
			"CommitOffsets without name": s.CommitOffsets(ctx, "", 1, map[string]api.Position{"a": {1}}),
			"AlterOffsets without name":  s.AlterOffsets(ctx, "", nil),
			"PutStatus without name":     s.PutStatus(ctx, state.Status{Task: 0}),
			"PutStatus with task -2":     s.PutStatus(ctx, state.Status{Connector: "a", Task: -2}),
		}
		for name, err := range checks {
			if err == nil {
				t.Errorf("%s: no error", name)
			}
		}
	})
}

// A nil position marks a record that needs no commit (api.Record): it is
// skipped, neither stored nor able to fence.
func TestStoreCommitSkipsNilPositions(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s state.Store) {
		ctx := context.Background()
		if err := s.CommitOffsets(ctx, "a", 5, map[string]api.Position{"x": nil, "y": api.Position("1")}); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitOffsets(ctx, "a", 1, map[string]api.Position{"x": api.Position("2"), "y": nil}); err != nil {
			t.Fatalf("commit of a partition gen 5 only named with a nil position: %v", err)
		}
		got, err := s.Offsets(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || string(got["x"]) != "2" || string(got["y"]) != "1" {
			t.Errorf("offsets = %q", got)
		}
	})
}

func TestStoreCanceledContext(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s state.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.PutConnector(ctx, state.Connector{Name: "a"}); err != context.Canceled {
			t.Errorf("PutConnector with a canceled context: err = %v", err)
		}
		if err := s.CommitOffsets(ctx, "a", 1, map[string]api.Position{"p": {1}}); err != context.Canceled {
			t.Errorf("CommitOffsets with a canceled context: err = %v", err)
		}
	})
}
