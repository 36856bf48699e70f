package state

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ferryhq/ferry/api"
)

// Option configures a store built by NewMemory or OpenBolt.
type Option func(*options)

type options struct {
	now         func() time.Time
	lockTimeout time.Duration
}

func buildOptions(opts []Option) options {
	o := options{now: time.Now, lockTimeout: defaultLockTimeout}
	for _, fn := range opts {
		fn(&o)
	}
	return o
}

// WithClock sets the clock that stamps Connector.Created/Updated and a
// Status's Updated when the caller left it zero (default time.Now). Tests
// inject a fixed clock to compare timestamps exactly.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// Memory is a Store held in memory, for tests and tools. It follows every
// rule of the Store contract; nothing survives the process.
//
// One mutex, mu, guards all state; methods hold it only for the map work,
// never across a callback or I/O.
type Memory struct {
	now func() time.Time

	mu         sync.Mutex
	closed     bool
	revision   int64 // last Revision assigned, store-wide
	connectors map[string]Connector
	offsets    map[string]map[string]storedOffset // connector → partition
	statuses   map[string]map[int]Status          // connector → task
}

// storedOffset is one partition's committed position and the generation of
// the task that last committed it (0 when only operators set it).
type storedOffset struct {
	generation int64
	position   api.Position
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store. Of the options only
// WithClock applies.
func NewMemory(opts ...Option) *Memory {
	o := buildOptions(opts)
	return &Memory{
		now:        o.now,
		connectors: map[string]Connector{},
		offsets:    map[string]map[string]storedOffset{},
		statuses:   map[string]map[int]Status{},
	}
}

// lock takes mu after checking ctx and returns ErrClosed once closed. The
// caller unlocks when err is nil.
func (m *Memory) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// PutConnector implements Store. Revision comes from one store-wide
// counter, so it also increases across a delete and re-create; Created is
// kept on replace.
func (m *Memory) PutConnector(ctx context.Context, c Connector) (Connector, error) {
	if err := checkName(c.Name); err != nil {
		return Connector{}, err
	}
	if err := m.lock(ctx); err != nil {
		return Connector{}, err
	}
	defer m.mu.Unlock()
	now := m.now()
	c.Config = maps.Clone(c.Config)
	c.Created, c.Updated = now, now
	if old, ok := m.connectors[c.Name]; ok {
		c.Created = old.Created
	}
	m.revision++
	c.Revision = m.revision
	m.connectors[c.Name] = c
	return copyConnector(c), nil
}

// DeleteConnector implements Store.
func (m *Memory) DeleteConnector(ctx context.Context, name string) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if _, ok := m.connectors[name]; !ok {
		return fmt.Errorf("connector %q: %w", name, ErrNotFound)
	}
	delete(m.connectors, name)
	delete(m.statuses, name)
	return nil
}

// Connector implements Store.
func (m *Memory) Connector(ctx context.Context, name string) (Connector, error) {
	if err := m.lock(ctx); err != nil {
		return Connector{}, err
	}
	defer m.mu.Unlock()
	c, ok := m.connectors[name]
	if !ok {
		return Connector{}, fmt.Errorf("connector %q: %w", name, ErrNotFound)
	}
	return copyConnector(c), nil
}

// Connectors implements Store.
func (m *Memory) Connectors(ctx context.Context) ([]Connector, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	out := make([]Connector, 0, len(m.connectors))
	for _, name := range slices.Sorted(maps.Keys(m.connectors)) {
		out = append(out, copyConnector(m.connectors[name]))
	}
	return out, nil
}

// CommitOffsets implements Store. A nil position means the record needed
// no commit (api.Record), so it is skipped.
func (m *Memory) CommitOffsets(ctx context.Context, connector string, generation int64, offsets map[string]api.Position) error {
	if err := checkName(connector); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	parts := m.offsets[connector]
	// Check every partition before writing any: all or nothing.
	for p, pos := range offsets {
		if pos == nil {
			continue
		}
		if old, ok := parts[p]; ok && old.generation > generation {
			return fenced(connector, p, generation, old.generation)
		}
	}
	for p, pos := range offsets {
		if pos == nil {
			continue
		}
		if parts == nil {
			parts = map[string]storedOffset{}
			m.offsets[connector] = parts
		}
		parts[p] = storedOffset{generation: generation, position: clonePosition(pos)}
	}
	return nil
}

// Offsets implements Store.
func (m *Memory) Offsets(ctx context.Context, connector string) (map[string]api.Position, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	out := make(map[string]api.Position, len(m.offsets[connector]))
	for p, o := range m.offsets[connector] {
		out[p] = clonePosition(o.position)
	}
	return out, nil
}

// AlterOffsets implements Store. A partition it creates has generation 0,
// so any task may commit over it.
func (m *Memory) AlterOffsets(ctx context.Context, connector string, offsets map[string]api.Position) error {
	if err := checkName(connector); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if offsets == nil {
		delete(m.offsets, connector)
		return nil
	}
	parts := m.offsets[connector]
	if parts == nil {
		parts = map[string]storedOffset{}
	}
	for p, pos := range offsets {
		if pos == nil {
			delete(parts, p)
			continue
		}
		old := parts[p]
		parts[p] = storedOffset{generation: old.generation, position: clonePosition(pos)}
	}
	if len(parts) == 0 {
		delete(m.offsets, connector)
	} else {
		m.offsets[connector] = parts
	}
	return nil
}

// PutStatus implements Store. A zero Updated is stamped with the store's
// clock.
func (m *Memory) PutStatus(ctx context.Context, s Status) error {
	if err := checkStatus(s); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	tasks := m.statuses[s.Connector]
	if old, ok := tasks[s.Task]; ok && old.Generation > s.Generation {
		return nil
	}
	if s.Updated.IsZero() {
		s.Updated = m.now()
	}
	if tasks == nil {
		tasks = map[int]Status{}
		m.statuses[s.Connector] = tasks
	}
	tasks[s.Task] = s
	return nil
}

// Statuses implements Store. It returns an empty slice, not an error, for
// a connector with no status.
func (m *Memory) Statuses(ctx context.Context, connector string) ([]Status, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	tasks := m.statuses[connector]
	out := make([]Status, 0, len(tasks))
	// ConnectorTask is -1, so ascending order puts the connector first.
	for _, task := range slices.Sorted(maps.Keys(tasks)) {
		out = append(out, tasks[task])
	}
	return out, nil
}

// Close implements Store: it drops the data; later calls return ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.connectors, m.offsets, m.statuses = nil, nil, nil
	return nil
}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty connector name: %w", ErrInvalid)
	}
	return nil
}

func checkStatus(s Status) error {
	if err := checkName(s.Connector); err != nil {
		return err
	}
	if s.Task < ConnectorTask {
		return fmt.Errorf("status of %q: task %d: %w", s.Connector, s.Task, ErrInvalid)
	}
	return nil
}

func fenced(connector, partition string, generation, stored int64) error {
	return fmt.Errorf("commit %q partition %q at generation %d, stored generation %d: %w",
		connector, partition, generation, stored, ErrFenced)
}

func copyConnector(c Connector) Connector {
	c.Config = maps.Clone(c.Config)
	return c
}

// clonePosition copies p, keeping an empty position distinct from nil.
func clonePosition(p api.Position) api.Position {
	if p == nil {
		return nil
	}
	return append(api.Position{}, p...)
}
