package rds_test

import (
	"context"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
)

// TestPositionStore: the engine reads Positions right after Open, before
// any write, from a sink that may be a fresh incarnation after a crash.
// With exactly.once the answer is what earlier sinks committed with their
// rows; without it, always empty.
func TestPositionStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		exactly   string
		afterOpen string // the partition's position read by a new sink after the write
		afterSave string // … and after the engine saved a later one
		table     bool   // whether Open created exactly.once.table
	}{
		{"exactly once", "true", "12", "15", true},
		{"at least once", "false", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t)
			tg.exec("CREATE TABLE items (id INT PRIMARY KEY, title TEXT)")
			cfg := tg.config(map[string]string{"mode": "cdc", "exactly.once": tc.exactly})
			read := func(s api.Sink) map[string]api.Position {
				t.Helper()
				ps, ok := s.(api.PositionStore)
				if !ok {
					t.Fatalf("%T is not an api.PositionStore", s)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				got, err := ps.Positions(ctx)
				if err != nil {
					t.Fatalf("Positions: %v", err)
				}
				if got == nil {
					t.Fatal("Positions returned a nil map")
				}
				return got
			}

			first := open(t, cfg)
			if got := read(first); len(got) != 0 {
				t.Errorf("right after the first Open: %q; want none", got)
			}
			if n := len(tg.rows("SHOW TABLES LIKE 'ferry_offsets'")); (n == 1) != tc.table {
				t.Errorf("ferry_offsets exists: %v; want %v", n == 1, tc.table)
			}
			mustWrite(t, first, []api.Record{
				change('c', "items", nil, map[string]any{"id": 1, "title": "a"}, 11),
				change('c', "items", nil, map[string]any{"id": 2, "title": "b"}, 12),
			})

			// A restarted task: a new sink, asked before it writes.
			second := open(t, cfg)
			got := read(second)
			if pos := string(got["127.0.0.1:3306"]); pos != tc.afterOpen || len(got) > 1 {
				t.Errorf("a new sink's positions %q; want %q for the partition", got, tc.afterOpen)
			}

			// The engine committed records the sink never saw (filtered
			// out) and hands it their positions (api.PositionSaver).
			saver, ok := second.(api.PositionSaver)
			if !ok {
				t.Fatalf("%T is not an api.PositionSaver", second)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := saver.SavePositions(ctx, map[string]api.Position{"127.0.0.1:3306": api.Position("15")}); err != nil {
				t.Fatalf("SavePositions: %v", err)
			}
			got = read(open(t, cfg))
			if pos := string(got["127.0.0.1:3306"]); pos != tc.afterSave || len(got) > 1 {
				t.Errorf("positions after SavePositions %q; want %q for the partition", got, tc.afterSave)
			}
		})
	}
}
