package dts

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ferryhq/ferry/api"
)

// position is where a record sits in the subscription: its source time
// (Unix seconds, DTS's checkpoint unit), its offset on the store that
// served it, its DTS record id, and that store's Kafka cluster ID. The
// offset is only meaningful on that store; the timestamp and id are the
// subscription's own and survive a store failover.
type position struct {
	TS     int64  `json:"ts"`
	Offset int64  `json:"offset"`
	ID     int64  `json:"id"`
	Store  string `json:"store"`
}

// encode renders p as the record's api.Position:
// {"ts":1763800000,"offset":41,"id":42,"store":"…"}.
func (p *position) encode(b []byte) api.Position {
	b = append(b, `{"ts":`...)
	b = strconv.AppendInt(b, p.TS, 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, p.Offset, 10)
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, p.ID, 10)
	b = append(b, `,"store":`...)
	b = api.AppendJSONString(b, p.Store)
	return append(b, '}')
}

// decodePosition parses a stored position.
func decodePosition(b api.Position) (position, error) {
	var p position
	if err := json.Unmarshal(b, &p); err != nil {
		return position{}, fmt.Errorf("%w: %q: %v", ErrBadPosition, truncate(string(b), 200), err)
	}
	if p.TS < 0 || p.TS > maxTimestamp || p.Offset < 0 {
		return position{}, fmt.Errorf("%w: %q: ts or offset out of range", ErrBadPosition, truncate(string(b), 200))
	}
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
