package rocketmq

import (
	"context"
	"fmt"
)

// MetaValue is one cluster register: an opaque value and its version (the
// config-topic offset + 1 of the write that set it; 0 = never written).
//
// Registers hold what the cluster worker's leader publishes besides
// connector definitions — task configs and assignments — on the config
// topic, so they share its total order and its snapshots.
type MetaValue struct {
	Value   []byte
	Version int64
}

// PutMeta sets register key to value if its version is still expect (0
// for a register never written) and returns the new version. Otherwise it
// writes nothing that takes effect and returns ErrConflict with the
// version that won. The check happens when the record is applied, in
// config-topic order, so of two writers that read the same version
// exactly one succeeds, on every worker's view alike.
func (s *Store) PutMeta(ctx context.Context, key string, expect int64, value []byte) (int64, error) {
	if key == "" {
		return 0, fmt.Errorf("empty register key: %w", errInvalid)
	}
	if value == nil {
		value = []byte{}
	}
	out, err := s.write(ctx, kindConfig, record{Type: recMetaPut, Key: key, Generation: expect}, metaPayload{Value: value})
	if err != nil {
		return 0, err
	}
	return out.meta.Version, out.err
}

// Meta returns register key (the zero MetaValue when never written).
func (s *Store) Meta(ctx context.Context, key string) (MetaValue, error) {
	if err := s.lock(ctx); err != nil {
		return MetaValue{}, err
	}
	defer s.mu.Unlock()
	return cloneMeta(s.st.meta[key]), nil
}

// MetaKeys returns the keys of every register whose key starts with
// prefix, in no particular order.
func (s *Store) MetaKeys(ctx context.Context, prefix string) ([]string, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []string
	for k := range s.st.meta {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			out = append(out, k)
		}
	}
	return out, nil
}
