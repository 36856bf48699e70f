package rocketmq

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
)

// recordVersion is the envelope version every record carries. A reader
// skips (and logs) records of another version instead of misreading them.
const recordVersion = 1

// Record types. The first word names the topic a record lives on.
const (
	recConnectorPut    = "connector.put"    // config topic
	recConnectorDelete = "connector.delete" // config topic
	recOffsetsCommit   = "offsets.commit"   // offsets topic
	recOffsetsAlter    = "offsets.alter"    // offsets topic
	// recOffsetsFence raises the generation of the partitions one run of
	// a task committed last (offsets topic): Generation is that run's.
	recOffsetsFence = "offsets.fence"
	recStatusPut    = "status.put"   // status topic
	recStatusClear  = "status.clear" // status topic, after a connector delete
	recSnapshot     = "snapshot"     // snapshot topic: one chunk of one snapshot
	// recMetaPut is a compare-and-set of one cluster register (config
	// topic): Generation carries the version the writer expects.
	recMetaPut = "meta.put"
)

// record is the envelope of every message on a store topic: versioned,
// self-describing JSON. Key is the connector name (for a snapshot chunk,
// the topic kind). Instance and Nonce let the writing store find the
// outcome of its own record when its reader applies it; other stores
// ignore them.
type record struct {
	V          int             `json:"v"`
	Type       string          `json:"type"`
	Key        string          `json:"key"`
	Writer     string          `json:"writer,omitempty"`
	Instance   string          `json:"instance,omitempty"`
	Nonce      uint64          `json:"nonce,omitempty"`
	Generation int64           `json:"generation,omitempty"`
	Time       time.Time       `json:"ts"`
	Payload    json.RawMessage `json:"payload,omitempty"`
}

// connectorPayload is the payload of connector.put.
type connectorPayload struct {
	Config map[string]string `json:"config"`
	Target state.TargetState `json:"target"`
}

// offsetsPayload is the payload of offsets.commit and offsets.alter. Reset
// (alter only) deletes every offset of the connector.
type offsetsPayload struct {
	Reset   bool           `json:"reset,omitempty"`
	Offsets []partitionPos `json:"offsets,omitempty"`
}

// fencePayload names the worker whose run is fenced.
type fencePayload struct {
	Worker string `json:"worker"`
}

// partitionPos is one partition's position. A partition name is any Go
// string; one that is not valid UTF-8 would be mangled by JSON, so it
// travels base64-encoded in P64 instead of P. Pos is base64 (JSON's
// []byte); null means "delete" in an alter.
type partitionPos struct {
	P          string `json:"p"`
	P64        []byte `json:"p64,omitempty"`
	Pos        []byte `json:"pos"`
	Generation int64  `json:"generation,omitempty"` // snapshots only
	Writer     string `json:"writer,omitempty"`     // snapshots only
}

func newPartitionPos(p string, pos api.Position) partitionPos {
	pp := partitionPos{Pos: pos}
	if utf8.ValidString(p) {
		pp.P = p
	} else {
		pp.P64 = []byte(p)
	}
	return pp
}

func (pp partitionPos) partition() string {
	if pp.P64 != nil {
		return string(pp.P64)
	}
	return pp.P
}

func encodeOffsets(m map[string]api.Position) []partitionPos {
	out := make([]partitionPos, 0, len(m))
	for p, pos := range m {
		out = append(out, newPartitionPos(p, pos))
	}
	return out
}

// metaPayload is the payload of meta.put: the register's new value.
type metaPayload struct {
	Value []byte `json:"value"`
}

// statusPayload is the payload of status.put (connector and generation
// are in the envelope).
type statusPayload struct {
	Task     int         `json:"task"`
	State    state.State `json:"state"`
	WorkerID string      `json:"worker_id,omitempty"`
	Trace    string      `json:"trace,omitempty"`
	Updated  time.Time   `json:"updated"`
	Retrying *time.Time  `json:"retrying_since,omitempty"`
}

// chunkPayload is the payload of a snapshot record: chunk Chunk (from 0)
// of Chunks of snapshot ID, which holds the materialised state of one
// topic Kind up to Covers (queue id → first offset NOT included).
type chunkPayload struct {
	ID      string           `json:"id"`
	Kind    string           `json:"kind"`
	Topic   string           `json:"topic"`
	Chunk   int              `json:"chunk"`
	Chunks  int              `json:"chunks"`
	Covers  map[string]int64 `json:"covers"`  // "broker/queue id" → offset
	Records int64            `json:"records"` // records applied in the covered log, for diagnostics
	Data    []byte           `json:"data"`
}

func encodeRecord(r record, payload any) ([]byte, error) {
	r.V = recordVersion
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("encode %s payload: %w", r.Type, err)
		}
		r.Payload = b
	}
	return json.Marshal(r)
}

// decodeRecord parses an envelope and checks what every record needs;
// payloads are decoded by whoever applies the record.
func decodeRecord(b []byte) (record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, fmt.Errorf("%w: %v", ErrRecord, err)
	}
	if r.V != recordVersion {
		return record{}, fmt.Errorf("%w: version %d, this store reads %d", ErrRecord, r.V, recordVersion)
	}
	switch r.Type {
	case recConnectorPut, recConnectorDelete, recOffsetsCommit, recOffsetsAlter, recOffsetsFence, recStatusPut, recStatusClear,
		recSnapshot, recMetaPut:
	default:
		return record{}, fmt.Errorf("%w: unknown type %q", ErrRecord, r.Type)
	}
	if r.Key == "" {
		return record{}, fmt.Errorf("%w: %s without a key", ErrRecord, r.Type)
	}
	return r, nil
}

func decodePayload(r record, v any) error {
	if len(r.Payload) == 0 {
		return fmt.Errorf("%w: %s without a payload", ErrRecord, r.Type)
	}
	if err := json.Unmarshal(r.Payload, v); err != nil {
		return fmt.Errorf("%w: %s payload: %v", ErrRecord, r.Type, err)
	}
	return nil
}
