package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/ferryhq/ferry/api"
)

// Bolt is a durable Store in one bbolt file, the standalone worker's store.
// Every write is one bbolt read-write transaction, fsync'd before the
// method returns; a crash loses nothing that was acknowledged.
//
// # On-disk layout (format version 1)
//
// Top-level buckets:
//
//	meta        "version" → "1" (ASCII). A file with another version is
//	            refused, so an old binary never misreads a newer layout.
//	connectors  connector name → JSON {"v":1,"config":{..},"target":"RUNNING",
//	            "revision":N,"created":RFC3339Nano,"updated":RFC3339Nano}.
//	            The bucket's sequence is the last Revision assigned, so
//	            revisions grow store-wide and survive restarts.
//	offsets     one nested bucket per connector name; in it
//	            'p' + partition → binary record (see encodeOffset):
//	            0x01 (record version), generation as a zig-zag varint, then
//	            the position's bytes. The 'p' prefix exists because bbolt
//	            keys may not be empty and "" is a valid partition.
//	status      one nested bucket per connector name; in it
//	            uint64 big-endian (task+1) → JSON {"v":1,"state":..,
//	            "worker_id":..,"trace":..,"generation":N,"updated":..}.
//	            Task+1 makes ConnectorTask (-1) key 0, so bbolt's byte order
//	            is the Statuses order: the connector, then tasks by index.
//
// JSON keeps configs and statuses readable with `bbolt get`; offsets are
// binary because they are the hot path and positions are arbitrary bytes.
// bbolt limits keys to 32 KiB, so connector names and partitions longer
// than that are refused with an error.
//
// Concurrency: bbolt serialises writers; mu makes Close wait for calls in
// flight and turns later calls into ErrClosed.
type Bolt struct {
	db  *bbolt.DB
	now func() time.Time

	mu     sync.RWMutex // read-held by every call, write-held by Close
	closed bool
}

var _ Store = (*Bolt)(nil)

// defaultLockTimeout bounds the wait for another process's lock on the
// file: a second worker on the same data directory must fail, not hang.
const defaultLockTimeout = time.Second

// boltFormat is the layout version written to meta/version.
const boltFormat = "1"

// Record versions inside values.
const (
	offsetRecordV1 = 0x01
	jsonRecordV1   = 1
)

var (
	bucketMeta       = []byte("meta")
	bucketConnectors = []byte("connectors")
	bucketOffsets    = []byte("offsets")
	bucketStatus     = []byte("status")
	keyVersion       = []byte("version")
)

// WithLockTimeout sets how long OpenBolt waits for a file locked by
// another process before failing (default 1s). Memory ignores it.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) { o.lockTimeout = d }
}

// OpenBolt opens (creating it and its directory when missing) the store
// file at path. Options: WithClock, WithLockTimeout.
func OpenBolt(path string, opts ...Option) (*Bolt, error) {
	o := buildOptions(opts)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("offset: open %s: %w", path, err)
	}
	timeout := o.lockTimeout
	if timeout <= 0 {
		// bbolt waits forever on 0; we never want that.
		timeout = defaultLockTimeout
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("offset: open %s: file is locked by another process (a worker already uses this data directory?); gave up after %s: %w",
			path, timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("offset: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch v := meta.Get(keyVersion); {
		case v == nil:
			if err := meta.Put(keyVersion, []byte(boltFormat)); err != nil {
				return err
			}
		case string(v) != boltFormat:
			return fmt.Errorf("unsupported store format version %q (this binary reads %q)", v, boltFormat)
		}
		for _, name := range [][]byte{bucketConnectors, bucketOffsets, bucketStatus} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("offset: open %s: %w", path, err)
	}
	return &Bolt{db: db, now: o.now}, nil
}

// Path returns the file the store lives in.
func (b *Bolt) Path() string { return b.db.Path() }

// enter read-locks mu for one call after checking ctx; it returns
// ErrClosed once closed. The caller calls b.mu.RUnlock when err is nil.
func (b *Bolt) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (b *Bolt) update(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := b.enter(ctx); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	return b.db.Update(fn)
}

func (b *Bolt) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := b.enter(ctx); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	return b.db.View(fn)
}

// connectorRecord is the JSON value of the connectors bucket.
type connectorRecord struct {
	V        int               `json:"v"`
	Config   map[string]string `json:"config"`
	Target   TargetState       `json:"target"`
	Revision int64             `json:"revision"`
	Created  time.Time         `json:"created"`
	Updated  time.Time         `json:"updated"`
}

// statusRecord is the JSON value of a status bucket.
type statusRecord struct {
	V          int       `json:"v"`
	State      State     `json:"state"`
	WorkerID   string    `json:"worker_id,omitempty"`
	Trace      string    `json:"trace,omitempty"`
	Generation int64     `json:"generation"`
	Updated    time.Time `json:"updated"`
	// Retrying is RetryingSince; absent when healthy.
	Retrying *time.Time `json:"retrying_since,omitempty"`
}

// PutConnector implements Store. Revision is the connectors bucket's next
// sequence; Created is kept on replace.
func (b *Bolt) PutConnector(ctx context.Context, c Connector) (Connector, error) {
	if err := checkName(c.Name); err != nil {
		return Connector{}, err
	}
	c = copyConnector(c)
	err := b.update(ctx, func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketConnectors)
		now := b.now().UTC()
		c.Created, c.Updated = now, now
		if v := bk.Get([]byte(c.Name)); v != nil {
			old, err := decodeConnector(c.Name, v)
			if err != nil {
				return err
			}
			c.Created = old.Created
		}
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		c.Revision = int64(seq)
		v, err := json.Marshal(connectorRecord{V: jsonRecordV1, Config: c.Config, Target: c.Target,
			Revision: c.Revision, Created: c.Created, Updated: c.Updated})
		if err != nil {
			return err
		}
		return bk.Put([]byte(c.Name), v)
	})
	if err != nil {
		return Connector{}, wrap("put connector", c.Name, err)
	}
	return copyConnector(c), nil
}

// DeleteConnector implements Store.
func (b *Bolt) DeleteConnector(ctx context.Context, name string) error {
	err := b.update(ctx, func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketConnectors)
		if name == "" || bk.Get([]byte(name)) == nil {
			return ErrNotFound
		}
		if err := bk.Delete([]byte(name)); err != nil {
			return err
		}
		return deleteBucket(tx.Bucket(bucketStatus), name)
	})
	return wrap("delete connector", name, err)
}

// Connector implements Store.
func (b *Bolt) Connector(ctx context.Context, name string) (Connector, error) {
	var c Connector
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketConnectors).Get([]byte(name))
		if name == "" || v == nil {
			return ErrNotFound
		}
		var err error
		c, err = decodeConnector(name, v)
		return err
	})
	return c, wrap("get connector", name, err)
}

// Connectors implements Store. bbolt iterates keys in byte order, which is
// Go's string order.
func (b *Bolt) Connectors(ctx context.Context) ([]Connector, error) {
	var out []Connector
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketConnectors)
		out = []Connector{}
		return bk.ForEach(func(k, v []byte) error {
			c, err := decodeConnector(string(k), v)
			out = append(out, c)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("offset: list connectors: %w", err)
	}
	return out, nil
}

// CommitOffsets implements Store. A nil position means the record needed
// no commit (api.Record), so it is skipped.
func (b *Bolt) CommitOffsets(ctx context.Context, connector string, generation int64, offsets map[string]api.Position) error {
	if err := checkName(connector); err != nil {
		return err
	}
	if !hasPosition(offsets) {
		// Nothing to write: spare the fsync of an empty transaction, but
		// still answer as a closed store would.
		if err := b.enter(ctx); err != nil {
			return err
		}
		b.mu.RUnlock()
		return nil
	}
	err := b.update(ctx, func(tx *bbolt.Tx) error {
		root := tx.Bucket(bucketOffsets)
		// Check every partition before writing any; returning an error
		// also rolls the transaction back, so the call is all or nothing.
		if bk := root.Bucket([]byte(connector)); bk != nil {
			for p, pos := range offsets {
				if pos == nil {
					continue
				}
				v := bk.Get(partitionKey(p))
				if v == nil {
					continue
				}
				old, err := decodeOffset(v)
				if err != nil {
					return fmt.Errorf("partition %q: %w", p, err)
				}
				if old.generation > generation {
					return fenced(connector, p, generation, old.generation)
				}
			}
		}
		var bk *bbolt.Bucket
		for p, pos := range offsets {
			if pos == nil {
				continue
			}
			if bk == nil {
				var err error
				if bk, err = root.CreateBucketIfNotExists([]byte(connector)); err != nil {
					return err
				}
			}
			if err := bk.Put(partitionKey(p), encodeOffset(generation, pos)); err != nil {
				return fmt.Errorf("partition %q: %w", p, err)
			}
		}
		return nil
	})
	if errors.Is(err, ErrFenced) {
		return err // already names the connector and partition
	}
	return wrap("commit offsets", connector, err)
}

// Offsets implements Store.
func (b *Bolt) Offsets(ctx context.Context, connector string) (map[string]api.Position, error) {
	out := map[string]api.Position{}
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketOffsets).Bucket([]byte(connector))
		if connector == "" || bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error {
			o, err := decodeOffset(v)
			if err != nil {
				return fmt.Errorf("partition %q: %w", k[1:], err)
			}
			out[string(k[1:])] = o.position
			return nil
		})
	})
	if err != nil {
		return nil, wrap("read offsets", connector, err)
	}
	return out, nil
}

// AlterOffsets implements Store. A partition it creates has generation 0,
// so any task may commit over it.
func (b *Bolt) AlterOffsets(ctx context.Context, connector string, offsets map[string]api.Position) error {
	if err := checkName(connector); err != nil {
		return err
	}
	err := b.update(ctx, func(tx *bbolt.Tx) error {
		root := tx.Bucket(bucketOffsets)
		if offsets == nil {
			return deleteBucket(root, connector)
		}
		bk, err := root.CreateBucketIfNotExists([]byte(connector))
		if err != nil {
			return err
		}
		for p, pos := range offsets {
			key := partitionKey(p)
			if pos == nil {
				if err := bk.Delete(key); err != nil {
					return err
				}
				continue
			}
			var gen int64
			if v := bk.Get(key); v != nil {
				old, err := decodeOffset(v)
				if err != nil {
					return fmt.Errorf("partition %q: %w", p, err)
				}
				gen = old.generation
			}
			if err := bk.Put(key, encodeOffset(gen, pos)); err != nil {
				return fmt.Errorf("partition %q: %w", p, err)
			}
		}
		if k, _ := bk.Cursor().First(); k == nil {
			return deleteBucket(root, connector)
		}
		return nil
	})
	return wrap("alter offsets", connector, err)
}

// PutStatus implements Store. A zero Updated is stamped with the store's
// clock.
func (b *Bolt) PutStatus(ctx context.Context, s Status) error {
	if err := checkStatus(s); err != nil {
		return err
	}
	if s.Updated.IsZero() {
		s.Updated = b.now()
	}
	err := b.update(ctx, func(tx *bbolt.Tx) error {
		bk, err := tx.Bucket(bucketStatus).CreateBucketIfNotExists([]byte(s.Connector))
		if err != nil {
			return err
		}
		key := taskKey(s.Task)
		if v := bk.Get(key); v != nil {
			old, err := decodeStatus(s.Connector, v)
			if err != nil {
				return err
			}
			if old.Generation > s.Generation {
				return nil
			}
		}
		v, err := json.Marshal(statusRecord{V: jsonRecordV1, State: s.State, WorkerID: s.WorkerID,
			Trace: s.Trace, Generation: s.Generation, Updated: s.Updated.UTC(), Retrying: retryingPtr(s.RetryingSince)})
		if err != nil {
			return err
		}
		return bk.Put(key, v)
	})
	return wrap("put status", s.Connector, err)
}

// Statuses implements Store. It returns an empty slice, not an error, for
// a connector with no status.
func (b *Bolt) Statuses(ctx context.Context, connector string) ([]Status, error) {
	out := []Status{}
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketStatus).Bucket([]byte(connector))
		if connector == "" || bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("corrupt status key %x", k)
			}
			s, err := decodeStatus(connector, v)
			if err != nil {
				return err
			}
			s.Task = int(binary.BigEndian.Uint64(k)) - 1
			out = append(out, s)
			return nil
		})
	})
	if err != nil {
		return nil, wrap("read statuses", connector, err)
	}
	return out, nil
}

// Close implements Store: it waits for calls in flight and closes the
// file, releasing its lock. Later calls return ErrClosed.
func (b *Bolt) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("offset: close %s: %w", b.db.Path(), err)
	}
	return nil
}

// wrap adds the operation and connector to errors that leave the package,
// leaving sentinels reachable with errors.Is.
func wrap(op, connector string, err error) error {
	if err == nil || errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("offset: %s %q: %w", op, connector, err)
}

func deleteBucket(parent *bbolt.Bucket, name string) error {
	if name == "" {
		return nil
	}
	err := parent.DeleteBucket([]byte(name))
	if errors.Is(err, bolterrors.ErrBucketNotFound) {
		return nil
	}
	return err
}

func hasPosition(offsets map[string]api.Position) bool {
	for _, pos := range offsets {
		if pos != nil {
			return true
		}
	}
	return false
}

func partitionKey(p string) []byte {
	return append([]byte{'p'}, p...)
}

func taskKey(task int) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(task+1))
}

// encodeOffset builds an offsets-bucket value: version byte, zig-zag
// varint generation, position bytes.
func encodeOffset(generation int64, pos api.Position) []byte {
	v := make([]byte, 0, 1+binary.MaxVarintLen64+len(pos))
	v = append(v, offsetRecordV1)
	v = binary.AppendVarint(v, generation)
	return append(v, pos...)
}

// decodeOffset parses an offsets-bucket value. The position is copied: v
// belongs to bbolt and is only valid inside the transaction. An empty
// position decodes as empty, not nil.
func decodeOffset(v []byte) (storedOffset, error) {
	if len(v) == 0 {
		return storedOffset{}, errors.New("corrupt offset record: empty")
	}
	if v[0] != offsetRecordV1 {
		return storedOffset{}, fmt.Errorf("unsupported offset record version %d", v[0])
	}
	gen, n := binary.Varint(v[1:])
	if n <= 0 {
		return storedOffset{}, errors.New("corrupt offset record: bad generation varint")
	}
	return storedOffset{generation: gen, position: bytes.Clone(v[1+n:])}, nil
}

func decodeConnector(name string, v []byte) (Connector, error) {
	var r connectorRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return Connector{}, fmt.Errorf("corrupt connector record %q: %w", name, err)
	}
	if r.V != jsonRecordV1 {
		return Connector{}, fmt.Errorf("connector record %q: unsupported version %d", name, r.V)
	}
	return Connector{Name: name, Config: r.Config, Target: r.Target, Revision: r.Revision,
		Created: r.Created, Updated: r.Updated}, nil
}

func decodeStatus(connector string, v []byte) (Status, error) {
	var r statusRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return Status{}, fmt.Errorf("corrupt status record of %q: %w", connector, err)
	}
	if r.V != jsonRecordV1 {
		return Status{}, fmt.Errorf("status record of %q: unsupported version %d", connector, r.V)
	}
	st := Status{Connector: connector, State: r.State, WorkerID: r.WorkerID, Trace: r.Trace,
		Generation: r.Generation, Updated: r.Updated}
	if r.Retrying != nil {
		st.RetryingSince = *r.Retrying
	}
	return st, nil
}

// retryingPtr is RetryingSince as an optional JSON field.
func retryingPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
