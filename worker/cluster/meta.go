package cluster

import (
	"encoding/json"
	"fmt"
	"time"
)

// Meta is the metadata a worker gossips about itself. It must encode to at
// most 512 bytes (memberlist's limit; Validate checks it).
type Meta struct {
	WorkerID  string    `json:"id"`
	RESTURL   string    `json:"rest,omitempty"`
	Version   string    `json:"version,omitempty"`
	StartTime time.Time `json:"start"`
	Draining  bool      `json:"draining,omitempty"`
}

func (m Meta) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode meta: %w", err)
	}
	return b, nil
}

func decodeMeta(b []byte) (Meta, error) {
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("decode meta: %w", err)
	}
	return m, nil
}
