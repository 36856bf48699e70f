package workertest

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ferryhq/ferry/api"
)

// TickSource emits one record every few milliseconds until ctx ends, in
// partition "p0" at positions 1, 2, ….
type TickSource struct{ n int }

func (s *TickSource) Open(context.Context) error { return nil }

func (s *TickSource) Read(ctx context.Context) ([]api.Record, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(5 * time.Millisecond):
	}
	s.n++
	return []api.Record{{
		Event:     api.Event{ID: strconv.Itoa(s.n), Source: "rest-e2e", SpecVersion: "1.0", Type: "tick", Data: []byte(strconv.Itoa(s.n))},
		Partition: "p0",
		Position:  api.Position(strconv.Itoa(s.n)),
	}}, nil
}

func (s *TickSource) Close(context.Context) error { return nil }

// CountSink counts what it is given.
type CountSink struct{ N *atomic.Int64 }

func (s CountSink) Open(context.Context) error { return nil }
func (s CountSink) Write(_ context.Context, rs []api.Record) error {
	s.N.Add(int64(len(rs)))
	return nil
}
func (s CountSink) Close(context.Context) error { return nil }
