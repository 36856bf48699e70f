package api_test

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/ferryhq/ferry/api"
)

// table stands in for a transactional database: rows and positions change
// together under one lock, as in one transaction.
type table struct {
	mu        sync.Mutex
	rows      []string
	positions map[string]api.Position
}

// ledger is a sink with an exactly-once option: each Write stores its
// records and the last position of each partition atomically.
type ledger struct{ db *table }

func (l *ledger) Open(context.Context) error  { return nil }
func (l *ledger) Close(context.Context) error { return nil }

func (l *ledger) Write(_ context.Context, records []api.Record) error {
	l.db.mu.Lock()
	defer l.db.mu.Unlock()
	for _, r := range records {
		l.db.rows = append(l.db.rows, r.Event.ID)
		l.db.positions[r.Partition] = r.Position
	}
	return nil
}

// Positions makes ledger an api.PositionStore.
func (l *ledger) Positions(context.Context) (map[string]api.Position, error) {
	l.db.mu.Lock()
	defer l.db.mu.Unlock()
	return maps.Clone(l.db.positions), nil
}

// A sink that stores positions with its writes is an api.PositionStore.
// After a crash that lost the offset store's last commit, the engine opens
// the sink first and builds the source from the sink's positions, so
// nothing the sink holds is written twice. This plays the engine's part by
// hand.
func ExamplePositionStore() {
	ctx := context.Background()
	db := &table{positions: map[string]api.Position{}}
	cfg, _ := Counter.Spec.Parse(map[string]string{"count": "5"})
	first, _ := Counter.New(api.TaskConfig{Connector: "demo", Config: cfg})
	batch, _ := first.Read(ctx)
	_ = (&ledger{db: db}).Write(ctx, batch)
	// The worker dies here, before committing to the offset store.

	var sink api.Sink = &ledger{db: db}
	_ = sink.Open(ctx)
	committed := map[string]api.Position{} // the offset store's: empty
	if ps, ok := sink.(api.PositionStore); ok {
		stored, err := ps.Positions(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		maps.Copy(committed, stored) // the sink's positions win
	}
	src, _ := Counter.New(api.TaskConfig{Connector: "demo", Config: cfg, Committed: committed})
	for {
		batch, err := src.Read(ctx)
		if err != nil {
			break // api.ErrEndOfInput
		}
		_ = sink.Write(ctx, batch)
	}
	fmt.Println(db.rows)
	// Output:
	// [demo-0 demo-1 demo-2 demo-3 demo-4]
}
