package trace

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// Limits bound a Recorder. Zero fields take the defaults named on them.
type Limits struct {
	// MaxTraces bounds the traces the worker keeps over all connectors;
	// default DefaultMaxTraces.
	MaxTraces int
	// MaxBytes bounds their estimated memory; default DefaultMaxBytes.
	// At least MinBytes.
	MaxBytes int64
	// PerConnector bounds one connector's traces; default
	// DefaultPerConnector.
	PerConnector int
	// TapBuffer is how many events one tap subscriber's channel holds;
	// default DefaultTapBuffer.
	TapBuffer int
	// MaxTaps bounds the live taps of the worker; default DefaultMaxTaps.
	MaxTaps int
}

// Defaults of Limits. A trace of a two-transform chain is about 500 bytes,
// so the defaults hold at most ~16 MiB: 1,024 recent traces for each of 16
// busy connectors, fewer each when more connectors trace.
const (
	DefaultMaxTraces    = 16_384
	DefaultMaxBytes     = 16 << 20
	DefaultPerConnector = 1024
	DefaultTapBuffer    = 256
	DefaultMaxTaps      = 64
	// MinBytes is the smallest MaxBytes: room for a few of the largest
	// traces (strings capped, steps bounded).
	MinBytes = 1 << 20
)

// Hard caps on Limits, so a configuration mistake cannot ask for more
// than a worker can hold.
const (
	maxTraces    = 10_000_000
	maxBytes     = 4 << 30
	maxTapBuffer = 65_536
	maxTaps      = 10_000
)

func (l Limits) withDefaults() Limits {
	if l.MaxTraces <= 0 {
		l.MaxTraces = DefaultMaxTraces
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.PerConnector <= 0 {
		l.PerConnector = DefaultPerConnector
	}
	l.PerConnector = min(l.PerConnector, l.MaxTraces)
	if l.TapBuffer <= 0 {
		l.TapBuffer = DefaultTapBuffer
	}
	if l.MaxTaps <= 0 {
		l.MaxTaps = DefaultMaxTaps
	}
	return l
}

// Validate reports the limits out of their bounds.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxTraces > maxTraces {
		errs = append(errs, fmt.Errorf("trace: MaxTraces must be at most %d, got %d", maxTraces, l.MaxTraces))
	}
	if l.MaxBytes != 0 && (l.MaxBytes < MinBytes || l.MaxBytes > maxBytes) {
		errs = append(errs, fmt.Errorf("trace: MaxBytes must be between %d and %d, got %d", MinBytes, maxBytes, l.MaxBytes))
	}
	if l.TapBuffer > maxTapBuffer {
		errs = append(errs, fmt.Errorf("trace: TapBuffer must be at most %d, got %d", maxTapBuffer, l.TapBuffer))
	}
	if l.MaxTaps > maxTaps {
		errs = append(errs, fmt.Errorf("trace: MaxTaps must be at most %d, got %d", maxTaps, l.MaxTaps))
	}
	return errors.Join(errs...)
}

// Recorder keeps a worker's traces and serves its taps. The zero value is
// not usable; call NewRecorder.
type Recorder struct {
	lim Limits

	// mu guards conns, the rings in them, count, bytes and taps. It is
	// held for a ring insertion or a query, never while sending to a tap.
	mu    sync.Mutex
	conns map[string]*conn
	count int
	bytes int64
	taps  int
}

// conn is one connector's traces and taps.
type conn struct {
	name string
	ring ring // under Recorder.mu
	// subs is the connector's taps, replaced (never changed) under
	// Recorder.mu and read without it by the tasks.
	subs atomic.Pointer[[]*sub]
}

// sub is one tap subscriber.
type sub struct {
	mu     sync.Mutex // guards closed, missed and sends against close
	ch     chan TapEvent
	closed bool
	missed int64
}

// Stats is a snapshot of a Recorder's use of its bounds.
type Stats struct {
	Traces int
	Bytes  int64
	Taps   int
}

// NewRecorder returns a Recorder bounded by lim.
func NewRecorder(lim Limits) (*Recorder, error) {
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	return &Recorder{lim: lim.withDefaults(), conns: map[string]*conn{}}, nil
}

// conn returns the connector's entry, creating it. r.mu must be held.
func (r *Recorder) conn(name string) *conn {
	c := r.conns[name]
	if c == nil {
		c = &conn{name: name}
		r.conns[name] = c
	}
	return c
}

// add stores a finished trace in its connector's ring, evicting old
// traces to keep the connector's and the worker's bounds.
func (r *Recorder) add(name string, t *Trace) {
	size := t.size()
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.conn(name)
	if c.ring.n == r.lim.PerConnector {
		r.evict(c)
	}
	c.ring.push(entry{t: t, size: size}, r.lim.PerConnector)
	r.count++
	r.bytes += size
	for r.count > r.lim.MaxTraces || r.bytes > r.lim.MaxBytes {
		r.evict(r.victim(c))
	}
}

// victim picks the ring to evict from when the worker's bounds are
// exceeded: the inserting connector's while it holds at least its share
// of the traces, else the largest ring.
func (r *Recorder) victim(c *conn) *conn {
	if c.ring.n*len(r.conns) >= r.count {
		return c
	}
	v := c
	for _, o := range r.conns {
		if o.ring.n > v.ring.n {
			v = o
		}
	}
	return v
}

func (r *Recorder) evict(c *conn) {
	e := c.ring.pop()
	r.count--
	r.bytes -= e.size
}

// Traces returns a connector's traces that match f, newest first. The
// traces are copies the caller may keep.
func (r *Recorder) Traces(connector string, f Filter) []Trace {
	limit := f.Limit
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.conns[connector]
	if c == nil {
		return nil
	}
	var out []Trace
	for i := c.ring.n - 1; i >= 0 && len(out) < limit; i-- {
		t := c.ring.at(i).t
		if f.match(t) {
			cp := *t
			cp.Steps = slices.Clone(t.Steps)
			out = append(out, cp)
		}
	}
	return out
}

// Connectors lists the connectors the recorder holds traces or taps of.
func (r *Recorder) Connectors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Collect(maps.Keys(r.conns))
}

// Forget drops a connector's traces (when it is deleted). Its live taps
// stay subscribed.
func (r *Recorder) Forget(connector string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.conns[connector]
	if c == nil {
		return
	}
	for c.ring.n > 0 {
		r.evict(c)
	}
	c.ring = ring{}
	if s := c.subs.Load(); s == nil || len(*s) == 0 {
		delete(r.conns, connector)
	}
}

// Stats reports the recorder's use of its bounds.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Stats{Traces: r.count, Bytes: r.bytes, Taps: r.taps}
}

// Tap subscribes to the events the connector's tasks on this worker
// finish from now until ctx ends; the channel is closed then. Events the
// subscriber does not take in time are lost to it (TapEvent.Missed), never
// waited for. It fails with ErrTooManyTaps when the worker already serves
// Limits.MaxTaps.
func (r *Recorder) Tap(ctx context.Context, connector string) (<-chan TapEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &sub{ch: make(chan TapEvent, r.lim.TapBuffer)}
	r.mu.Lock()
	if r.taps >= r.lim.MaxTaps {
		r.mu.Unlock()
		return nil, ErrTooManyTaps
	}
	r.taps++
	c := r.conn(connector)
	c.setSubs(append(c.loadSubs(), s))
	r.mu.Unlock()
	context.AfterFunc(ctx, func() { r.untap(connector, c, s) })
	return s.ch, nil
}

func (r *Recorder) untap(name string, c *conn, s *sub) {
	r.mu.Lock()
	r.taps--
	subs := slices.DeleteFunc(c.loadSubs(), func(o *sub) bool { return o == s })
	c.setSubs(subs)
	if len(subs) == 0 && c.ring.n == 0 && r.conns[name] == c {
		delete(r.conns, name)
	}
	r.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	close(s.ch)
	s.mu.Unlock()
}

// loadSubs returns a copy of the connector's subscribers.
func (c *conn) loadSubs() []*sub {
	if p := c.subs.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}

func (c *conn) setSubs(s []*sub) { c.subs.Store(&s) }

// tapRoom is the most events any subscriber of the connector can take
// now; 0 when none can (or there is none).
func (c *conn) tapRoom() int {
	p := c.subs.Load()
	if p == nil {
		return 0
	}
	room := 0
	for _, s := range *p {
		room = max(room, cap(s.ch)-len(s.ch))
	}
	return room
}

// publish offers ev to every subscriber without waiting.
func (c *conn) publish(ev TapEvent) {
	p := c.subs.Load()
	if p == nil {
		return
	}
	for _, s := range *p {
		s.mu.Lock()
		if !s.closed {
			ev.Missed = s.missed
			select {
			case s.ch <- ev:
				s.missed = 0
			default:
				s.missed++
			}
		}
		s.mu.Unlock()
	}
}

// entry is a stored trace and its estimated size.
type entry struct {
	t    *Trace
	size int64
}

// ring is a connector's traces, oldest first, growing to its capacity.
type ring struct {
	buf  []entry
	head int // index of the oldest
	n    int
}

// push appends e; the caller keeps r.n below capacity (evicting first).
func (r *ring) push(e entry, capacity int) {
	if r.n == len(r.buf) { // full: grow, oldest first
		buf := make([]entry, r.n, min(max(2*r.n, 8), capacity))
		for i := range r.n {
			buf[i] = r.at(i)
		}
		r.buf, r.head = append(buf, e), 0
		r.n++
		return
	}
	r.buf[(r.head+r.n)%len(r.buf)] = e
	r.n++
}

func (r *ring) pop() entry {
	e := r.buf[r.head]
	r.buf[r.head] = entry{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return e
}

// at returns the i-th oldest entry.
func (r *ring) at(i int) entry { return r.buf[(r.head+i)%len(r.buf)] }
