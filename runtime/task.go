package runtime

import (
	"context"
	"errors"
	"sync/atomic"
)

// Task runs one source → transforms → sink pipeline.
type Task struct {
	cfg Config
	m   counters
}

type counters struct {
	poll, write, filtered, send, ack, errs, dlq, retries, batches, commits, commitFails atomic.Int64
	inflightRecs, inflightBytes                                                         atomic.Int64
	lastCommit, lastRecord                                                              atomic.Int64
	putNanos, pollNanos                                                                 atomic.Int64
}

// New validates cfg and returns a task ready to Run.
func New(cfg Config) (*Task, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Task{cfg: cfg.withDefaults()}, nil
}

// Run opens the plugins and moves records until ctx ends (soft stop), the
// source reports api.ErrEndOfInput (returns nil after committing
// everything; Finished then reports true), or a fatal error (returned).
// Run may be called once.
func (t *Task) Run(ctx context.Context) error {
	return errors.New("runtime: not implemented yet")
}

// Finished reports whether the source reached its end and everything was
// committed.
func (t *Task) Finished() bool { return false }
