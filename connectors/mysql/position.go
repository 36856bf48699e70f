package mysql

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ferryhq/ferry/api"
)

// position is where a record sits in the server's history, stored as JSON
// text so operators can read and edit it:
//
//	{"file":"mysql-bin.000003","pos":1234,"gtids":"0-1-41","row":2}
//
// File:Pos is the start of the transaction holding the record (its GTID or
// BEGIN event), GTIDs the set executed before that transaction, Row the
// 1-based index of the record among the transaction's rows (DDL counts as
// one row). Resuming re-reads the transaction from its start and skips its
// first Row rows, so a commit in the middle of a multi-row event resumes at
// exactly the next row.
//
// While the initial snapshot runs, Snapshot is set: File/Pos/GTIDs is then
// the binlog position the snapshot saw (where streaming starts afterwards)
// and Row is 0; with snapshot.mode=initial_only, which never streams, they
// are left out.
type position struct {
	File     string       `json:"file,omitempty"`
	Pos      uint32       `json:"pos,omitempty"`
	GTIDs    string       `json:"gtids,omitempty"`
	Row      int          `json:"row,omitempty"`
	Begun    bool         `json:"begun,omitempty"` // the transaction's BEGIN event was delivered
	Snapshot *snapshotPos `json:"snapshot,omitempty"`
}

// snapshotPos is the snapshot's progress: the last row delivered was in
// Table ("db.table") with primary key Key (text values; binary key columns
// hex-encoded). Tables are read in name order, so every table before Table
// is complete. Key is empty for a table without a primary key (resumed from
// its start).
type snapshotPos struct {
	Table string   `json:"table"`
	Key   []string `json:"key,omitempty"`
}

func (p *position) encode() api.Position {
	b, _ := json.Marshal(p) // cannot fail: strings and integers only
	return b
}

// appendStream appends the JSON of a streaming position without the
// reflection of encoding/json: it runs once per row on the hot path.
func appendStream(b []byte, file string, pos uint32, gtids string, row int) []byte {
	b = append(b, `{"file":`...)
	b = api.AppendJSONString(b, file)
	b = append(b, `,"pos":`...)
	b = strconv.AppendUint(b, uint64(pos), 10)
	if gtids != "" {
		b = append(b, `,"gtids":`...)
		b = api.AppendJSONString(b, gtids)
	}
	if row != 0 {
		b = append(b, `,"row":`...)
		b = strconv.AppendInt(b, int64(row), 10)
	}
	return append(b, '}')
}

func decodePosition(b api.Position) (*position, error) {
	var p position
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrBadPosition, b, err)
	}
	if p.File == "" && p.GTIDs == "" && p.Snapshot == nil {
		return nil, fmt.Errorf("%w: %q: neither file nor gtids", ErrBadPosition, b)
	}
	if p.Row < 0 {
		return nil, fmt.Errorf("%w: %q: negative row", ErrBadPosition, b)
	}
	if p.Snapshot != nil && p.Snapshot.Table == "" {
		return nil, fmt.Errorf("%w: %q: snapshot without table", ErrBadPosition, b)
	}
	return &p, nil
}
