package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ferryhq/ferry/api"
)

// countSource emits records 0..n-1 in batches, then ErrEndOfInput (or
// blocks until ctx ends when endless).
type countSource struct {
	n, batch int
	endless  bool
	start    int
	next     int
	payload  []byte
	delay    time.Duration

	mu     sync.Mutex
	acked  map[string]string
	closed bool
}

func (s *countSource) Open(ctx context.Context) error { s.next = s.start; return nil }

func (s *countSource) Read(ctx context.Context) ([]api.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if s.next >= s.n {
		if s.endless {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nil, api.ErrEndOfInput
	}
	k := min(s.batch, s.n-s.next)
	out := make([]api.Record, k)
	for i := range out {
		seq := s.next + i
		out[i] = api.Record{
			Event: api.Event{
				ID: "e-" + strconv.Itoa(seq), Source: "/test", Type: "t",
				Data: s.payload,
			},
			Partition: "p",
			Position:  api.Position(strconv.Itoa(seq)),
		}
	}
	s.next += k
	return out, nil
}

func (s *countSource) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *countSource) Ack(ctx context.Context, partition string, pos api.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acked == nil {
		s.acked = map[string]string{}
	}
	s.acked[partition] = string(pos)
	return nil
}

// memSink collects written events; failN makes the first failN writes fail
// with a retryable error; reject rejects events whose id is in it.
type memSink struct {
	mu     sync.Mutex
	ids    []string
	failN  int
	writes int
	reject map[string]bool
	fatal  error
	block  chan struct{} // when set, Write blocks on it ignoring ctx
	slow   time.Duration
	closed bool
}

func (s *memSink) Open(ctx context.Context) error { return nil }

func (s *memSink) Write(ctx context.Context, recs []api.Record) error {
	if s.block != nil {
		<-s.block
	}
	if s.slow > 0 {
		time.Sleep(s.slow)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.fatal != nil {
		return api.Fatal(s.fatal)
	}
	if s.writes <= s.failN {
		return api.Retryable(errors.New("broker unavailable"))
	}
	var rejected api.RecordErrors
	for i, r := range recs {
		if s.reject[r.Event.ID] {
			rejected = append(rejected, api.RecordError{Index: i, Err: fmt.Errorf("cannot route %s", r.Event.ID)})
			continue
		}
		s.ids = append(s.ids, r.Event.ID)
	}
	if rejected != nil {
		return &rejected
	}
	return nil
}

func (s *memSink) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *memSink) IDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...)
}

// flushSink buffers writes and only makes them visible on Flush.
type flushSink struct {
	memSink
	buf     []string
	flushes int
}

func (s *flushSink) Write(ctx context.Context, recs []api.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.buf = append(s.buf, r.Event.ID)
	}
	return nil
}

func (s *flushSink) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, s.buf...)
	s.buf = s.buf[:0]
	s.flushes++
	return nil
}

// memCommitter records commits.
type memCommitter struct {
	mu      sync.Mutex
	offsets map[string]string
	n       int
	err     error
}

func (c *memCommitter) Commit(o map[string]api.Position) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.offsets == nil {
		c.offsets = map[string]string{}
	}
	for k, v := range o {
		c.offsets[k] = string(v)
	}
	c.n++
	return nil
}

func (c *memCommitter) get(p string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offsets[p]
}

// dropOdd filters out events with an odd sequence number and fails on "e-13".
type dropOdd struct{}

func (dropOdd) Apply(r *api.Record) (bool, error) {
	n, _ := strconv.Atoi(string(r.Position))
	if r.Event.ID == "e-13" {
		return false, errors.New("cannot parse e-13")
	}
	return n%2 == 0, nil
}
