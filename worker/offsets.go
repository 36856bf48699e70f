package worker

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
)

// Keys of ConnectorOffsets entries (see its doc).
const (
	offsetPartitionKey  = "partition"
	offsetPositionKey   = "position"
	offsetPosition64Key = "position_base64"
)

// offsets is the Controller's Offsets.
func (e *engine) offsets(ctx context.Context, name string) (ConnectorOffsets, error) {
	if _, err := e.connector(ctx, name); err != nil {
		return ConnectorOffsets{}, err
	}
	m, err := e.cfg.Store.Offsets(ctx, name)
	if err != nil {
		return ConnectorOffsets{}, err
	}
	return encodeOffsets(m), nil
}

// changeOffsets writes offsets (nil: delete all) when name is STOPPED.
// The caller serialises writes, which keeps the connector STOPPED for the
// whole write.
func (e *engine) changeOffsets(ctx context.Context, name string, m map[string]api.Position) error {
	def, err := e.connector(ctx, name)
	if err != nil {
		return err
	}
	if def.Target != state.TargetStopped {
		return fmt.Errorf("connector %q is %s: %w", name, def.Target, ErrNotStopped)
	}
	if err := e.cfg.Store.AlterOffsets(ctx, name, m); err != nil {
		return err
	}
	e.log.Info("connector offsets changed by the operator", "connector", name, "partitions", len(m), "reset", m == nil)
	return nil
}

// encodeOffsets renders stored positions, sorted by partition.
func encodeOffsets(m map[string]api.Position) ConnectorOffsets {
	out := ConnectorOffsets{Offsets: []PartitionOffset{}}
	for _, p := range slices.Sorted(maps.Keys(m)) {
		pos := m[p]
		o := map[string]string{offsetPositionKey: string(pos)}
		if !utf8.Valid(pos) {
			o = map[string]string{offsetPosition64Key: base64.StdEncoding.EncodeToString(pos)}
		}
		out.Offsets = append(out.Offsets, PartitionOffset{Partition: map[string]string{offsetPartitionKey: p}, Offset: o})
	}
	return out
}

// decodeOffsets parses an operator's offsets; a nil Offset deletes the
// partition's position.
func decodeOffsets(o ConnectorOffsets) (map[string]api.Position, error) {
	if len(o.Offsets) == 0 {
		return nil, fmt.Errorf("%w: offsets must list at least one partition", ErrBadRequest)
	}
	m := make(map[string]api.Position, len(o.Offsets))
	for i, po := range o.Offsets {
		p, ok := po.Partition[offsetPartitionKey]
		if !ok || len(po.Partition) != 1 {
			return nil, fmt.Errorf("%w: offsets[%d].partition must be {\"partition\": \"<name>\"}", ErrBadRequest, i)
		}
		if _, dup := m[p]; dup {
			return nil, fmt.Errorf("%w: partition %q is listed twice", ErrBadRequest, p)
		}
		if po.Offset == nil {
			m[p] = nil
			continue
		}
		text, isText := po.Offset[offsetPositionKey]
		b64, isB64 := po.Offset[offsetPosition64Key]
		switch {
		case len(po.Offset) != 1 || isText == isB64:
			return nil, fmt.Errorf("%w: offsets[%d].offset must be {\"position\": \"…\"} or {\"position_base64\": \"…\"}", ErrBadRequest, i)
		case isText:
			m[p] = api.Position(text)
		default:
			pos, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return nil, fmt.Errorf("%w: offsets[%d].offset.position_base64: %v", ErrBadRequest, i, err)
			}
			m[p] = pos
		}
	}
	return m, nil
}
