package rocketmq

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
)

// Topic kinds: each store topic materialises one part of the state, and a
// snapshot holds one part.
const (
	kindConfig  = "config"
	kindOffsets = "offsets"
	kindStatus  = "status"
)

var kinds = []string{kindConfig, kindOffsets, kindStatus}

// view is the materialised state of the three topics. It is a
// deterministic core: apply decides everything from the record and its
// queue offset, never from the clock or from who is applying, so every
// store that applies the same records in the same per-queue order holds
// the same state. Not safe for concurrent use; Store guards it with mu.
type view struct {
	connectors map[string]state.Connector
	offsets    map[string]map[string]storedOffset // connector → partition
	statuses   map[string]map[int]state.Status    // connector → task
	meta       map[string]MetaValue               // cluster registers (config topic)
}

// storedOffset is a partition's position and the generation and worker
// of the task run that last committed it (0 and "" when only an operator
// set it).
type storedOffset struct {
	generation int64
	position   api.Position
	writer     string
}

func newView() *view {
	return &view{
		connectors: map[string]state.Connector{},
		offsets:    map[string]map[string]storedOffset{},
		statuses:   map[string]map[int]state.Status{},
		meta:       map[string]MetaValue{},
	}
}

// outcome is what applying a record meant, for the store that wrote it:
// the stored connector of a put, ErrNotFound of a delete, ErrFenced of a
// commit.
type outcome struct {
	err       error
	connector state.Connector
	meta      MetaValue
}

// apply applies one record read at queue offset off. The rules are those
// of state.Memory; a connector's Revision is its config-topic offset + 1,
// which grows store-wide because the config topic has one queue.
func (st *view) apply(r record, off int64) (outcome, error) {
	switch r.Type {
	case recConnectorPut:
		var p connectorPayload
		if err := decodePayload(r, &p); err != nil {
			return outcome{}, err
		}
		c := state.Connector{Name: r.Key, Config: p.Config, Target: p.Target, Revision: off + 1, Created: r.Time, Updated: r.Time}
		if c.Config == nil {
			c.Config = map[string]string{}
		}
		if old, ok := st.connectors[r.Key]; ok {
			c.Created = old.Created
			// Writers' clocks differ; Updated never goes back.
			if old.Updated.After(c.Updated) {
				c.Updated = old.Updated
			}
		}
		st.connectors[r.Key] = c
		return outcome{connector: copyConnector(c)}, nil

	case recConnectorDelete:
		if _, ok := st.connectors[r.Key]; !ok {
			return outcome{err: fmt.Errorf("connector %q: %w", r.Key, state.ErrNotFound)}, nil
		}
		delete(st.connectors, r.Key)
		return outcome{}, nil

	case recOffsetsCommit:
		var p offsetsPayload
		if err := decodePayload(r, &p); err != nil {
			return outcome{}, err
		}
		if err := st.checkFence(r.Key, r.Generation, p.Offsets); err != nil {
			return outcome{err: err}, nil
		}
		for _, pp := range p.Offsets {
			if pp.Pos == nil {
				continue
			}
			st.partitions(r.Key)[pp.partition()] = storedOffset{generation: r.Generation, position: pp.Pos, writer: r.Writer}
		}
		return outcome{}, nil

	case recOffsetsFence:
		var p fencePayload
		if err := decodePayload(r, &p); err != nil {
			return outcome{}, err
		}
		// Only the partitions that exact run committed last: a later run
		// of another task of the connector (a higher generation) or another
		// worker's commit is untouched, and one more than the run's
		// generation refuses the run while every later run still commits.
		for part, o := range st.offsets[r.Key] {
			if o.writer == p.Worker && o.generation == r.Generation {
				o.generation++
				st.offsets[r.Key][part] = o
			}
		}
		return outcome{}, nil

	case recOffsetsAlter:
		var p offsetsPayload
		if err := decodePayload(r, &p); err != nil {
			return outcome{}, err
		}
		if p.Reset {
			delete(st.offsets, r.Key)
			return outcome{}, nil
		}
		parts := st.partitions(r.Key)
		for _, pp := range p.Offsets {
			if pp.Pos == nil {
				delete(parts, pp.partition())
				continue
			}
			old := parts[pp.partition()]
			parts[pp.partition()] = storedOffset{generation: old.generation, position: pp.Pos, writer: old.writer}
		}
		if len(parts) == 0 {
			delete(st.offsets, r.Key)
		}
		return outcome{}, nil

	case recStatusPut:
		var p statusPayload
		if err := decodePayload(r, &p); err != nil {
			return outcome{}, err
		}
		tasks := st.statuses[r.Key]
		if old, ok := tasks[p.Task]; ok && old.Generation > r.Generation {
			return outcome{}, nil
		}
		if tasks == nil {
			tasks = map[int]state.Status{}
			st.statuses[r.Key] = tasks
		}
		tasks[p.Task] = state.Status{Connector: r.Key, Task: p.Task, State: p.State, WorkerID: p.WorkerID,
			Trace: p.Trace, Generation: r.Generation, Updated: p.Updated, RetryingSince: sinceOf(p.Retrying)}
		return outcome{}, nil

	case recStatusClear:
		delete(st.statuses, r.Key)
		return outcome{}, nil

	case recMetaPut:
		var p metaPayload
		if err := decodePayload(r, &p); err != nil {
			return outcome{}, err
		}
		// The check runs where the record is applied, so every store
		// agrees which of two racing writers won: the first in queue order.
		cur := st.meta[r.Key]
		if cur.Version != r.Generation {
			return outcome{meta: cloneMeta(cur), err: fmt.Errorf("register %q: expected version %d, stored %d: %w",
				r.Key, r.Generation, cur.Version, ErrConflict)}, nil
		}
		v := MetaValue{Value: p.Value, Version: off + 1}
		if v.Value == nil {
			v.Value = []byte{}
		}
		st.meta[r.Key] = v
		return outcome{meta: cloneMeta(v)}, nil
	}
	return outcome{}, fmt.Errorf("%w: %s does not belong on a store topic", ErrRecord, r.Type)
}

// checkFence is CommitOffsets' all-or-nothing rule: no partition may hold
// a newer generation.
func (st *view) checkFence(connector string, generation int64, offs []partitionPos) error {
	parts := st.offsets[connector]
	for _, pp := range offs {
		if pp.Pos == nil {
			continue
		}
		if old, ok := parts[pp.partition()]; ok && old.generation > generation {
			return fmt.Errorf("commit %q partition %q at generation %d, stored generation %d: %w",
				connector, pp.partition(), generation, old.generation, state.ErrFenced)
		}
	}
	return nil
}

// partitions returns a connector's partition map, creating it.
func (st *view) partitions(connector string) map[string]storedOffset {
	parts := st.offsets[connector]
	if parts == nil {
		parts = map[string]storedOffset{}
		st.offsets[connector] = parts
	}
	return parts
}

// snapshotState is the JSON of one part of the state in a snapshot; only
// the field of the snapshot's kind is set. Lists are sorted so equal
// states encode to equal bytes.
type snapshotState struct {
	Connectors []snapConnector `json:"connectors,omitempty"`
	Offsets    []snapOffsets   `json:"offsets,omitempty"`
	Statuses   []snapStatus    `json:"statuses,omitempty"`
	Meta       []snapMeta      `json:"meta,omitempty"`
}

type snapMeta struct {
	Key     string `json:"key"`
	Value   []byte `json:"value"`
	Version int64  `json:"version"`
}

type snapConnector struct {
	Name     string            `json:"name"`
	Config   map[string]string `json:"config"`
	Target   state.TargetState `json:"target"`
	Revision int64             `json:"revision"`
	Created  time.Time         `json:"created"`
	Updated  time.Time         `json:"updated"`
}

type snapOffsets struct {
	Connector  string         `json:"connector"`
	Partitions []partitionPos `json:"partitions"`
}

type snapStatus struct {
	Connector  string      `json:"connector"`
	Task       int         `json:"task"`
	State      state.State `json:"state"`
	WorkerID   string      `json:"worker_id,omitempty"`
	Trace      string      `json:"trace,omitempty"`
	Generation int64       `json:"generation"`
	Updated    time.Time   `json:"updated"`
	Retrying   *time.Time  `json:"retrying_since,omitempty"`
}

// retryingPtr and sinceOf carry state.Status.RetryingSince as an
// optional JSON field.
func retryingPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func sinceOf(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return *p
}

// encodePart encodes the part of the state a topic kind owns.
func (st *view) encodePart(kind string) ([]byte, error) {
	var s snapshotState
	switch kind {
	case kindConfig:
		for _, name := range slices.Sorted(maps.Keys(st.connectors)) {
			c := st.connectors[name]
			s.Connectors = append(s.Connectors, snapConnector{Name: c.Name, Config: c.Config, Target: c.Target,
				Revision: c.Revision, Created: c.Created, Updated: c.Updated})
		}
		for _, k := range slices.Sorted(maps.Keys(st.meta)) {
			m := st.meta[k]
			s.Meta = append(s.Meta, snapMeta{Key: k, Value: m.Value, Version: m.Version})
		}
	case kindOffsets:
		for _, name := range slices.Sorted(maps.Keys(st.offsets)) {
			so := snapOffsets{Connector: name}
			parts := st.offsets[name]
			for _, p := range slices.Sorted(maps.Keys(parts)) {
				pp := newPartitionPos(p, parts[p].position)
				pp.Generation, pp.Writer = parts[p].generation, parts[p].writer
				so.Partitions = append(so.Partitions, pp)
			}
			s.Offsets = append(s.Offsets, so)
		}
	case kindStatus:
		for _, name := range slices.Sorted(maps.Keys(st.statuses)) {
			tasks := st.statuses[name]
			for _, task := range slices.Sorted(maps.Keys(tasks)) {
				v := tasks[task]
				s.Statuses = append(s.Statuses, snapStatus{Connector: name, Task: task, State: v.State, WorkerID: v.WorkerID,
					Trace: v.Trace, Generation: v.Generation, Updated: v.Updated, Retrying: retryingPtr(v.RetryingSince)})
			}
		}
	default:
		return nil, fmt.Errorf("unknown topic kind %q", kind)
	}
	return json.Marshal(s)
}

// loadPart replaces the part of the state a topic kind owns.
func (st *view) loadPart(kind string, b []byte) error {
	var s snapshotState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: snapshot of %s: %v", ErrRecord, kind, err)
	}
	switch kind {
	case kindConfig:
		st.connectors = map[string]state.Connector{}
		for _, c := range s.Connectors {
			if c.Config == nil {
				c.Config = map[string]string{}
			}
			st.connectors[c.Name] = state.Connector{Name: c.Name, Config: c.Config, Target: c.Target,
				Revision: c.Revision, Created: c.Created, Updated: c.Updated}
		}
		st.meta = map[string]MetaValue{}
		for _, m := range s.Meta {
			if m.Value == nil {
				m.Value = []byte{}
			}
			st.meta[m.Key] = MetaValue{Value: m.Value, Version: m.Version}
		}
	case kindOffsets:
		st.offsets = map[string]map[string]storedOffset{}
		for _, so := range s.Offsets {
			parts := st.partitions(so.Connector)
			for _, pp := range so.Partitions {
				if pp.Pos == nil {
					pp.Pos = []byte{}
				}
				parts[pp.partition()] = storedOffset{generation: pp.Generation, position: pp.Pos, writer: pp.Writer}
			}
		}
	case kindStatus:
		st.statuses = map[string]map[int]state.Status{}
		for _, v := range s.Statuses {
			tasks := st.statuses[v.Connector]
			if tasks == nil {
				tasks = map[int]state.Status{}
				st.statuses[v.Connector] = tasks
			}
			tasks[v.Task] = state.Status{Connector: v.Connector, Task: v.Task, State: v.State, WorkerID: v.WorkerID,
				Trace: v.Trace, Generation: v.Generation, Updated: v.Updated, RetryingSince: sinceOf(v.Retrying)}
		}
	default:
		return fmt.Errorf("unknown topic kind %q", kind)
	}
	return nil
}

func copyConnector(c state.Connector) state.Connector {
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

func cloneMeta(m MetaValue) MetaValue {
	if m.Value != nil {
		m.Value = append([]byte{}, m.Value...)
	}
	return m
}
