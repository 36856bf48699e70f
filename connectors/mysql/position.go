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

// snapshotPos is the snapshot's progress as of the record it belongs to:
// the record was read in Table ("db.table") with primary key Key (text
// values; binary key columns hex-encoded), and Done says it was that
// table's last row. Open lists the other tables started and not finished,
// each with the last key delivered (none yet: read from the start); with
// one thread it is always empty. Tables are started in name order, so
// every other table up to the last one started — the greatest of Table,
// Open and Through — is complete, and every later one untouched. Through
// is only written when neither Table nor Open names that last table (it
// finished while an earlier table is still being read).
//
// Because the position describes every table, committing any prefix of
// the interleaved records of several tables resumes each table exactly
// after its own last committed key. Key is empty for a table without a
// primary key (resumed from its start). Rows counts Table's rows read up
// to this one: a resumed snapshot first finishes the chunk the record was
// in, so its records replay in the original order (see progress).
type snapshotPos struct {
	Table   string      `json:"table"`
	Key     []string    `json:"key,omitempty"`
	Rows    int         `json:"rows,omitempty"`
	Done    bool        `json:"done,omitempty"`
	Open    []tableKeys `json:"open,omitempty"`
	Through string      `json:"through,omitempty"`
}

// tableKeys is a table in progress, the last key delivered from it and
// how many rows that was.
type tableKeys struct {
	Table string   `json:"table"`
	Key   []string `json:"key,omitempty"`
	Rows  int      `json:"rows,omitempty"`
}

func (p *position) encode() api.Position {
	if p.Snapshot != nil && p.Row == 0 && !p.Begun {
		sp := p.Snapshot
		return appendSnapshot(nil, appendSnapshotHead(nil, p, sp.Table), sp, appendSnapshotTail(nil, sp.Open, sp.Through))
	}
	b, _ := json.Marshal(p) // cannot fail: strings and integers only
	return b
}

// The snapshot's positions are written without the reflection of
// encoding/json, once per row, in three parts: a head (binlog coordinates
// and table) and a tail (the other tables) that all records of a chunk
// share, and each record's own key and count between them.

// appendSnapshotHead appends `{…coordinates…,"snapshot":{"table":"t"`.
func appendSnapshotHead(b []byte, start *position, table string) []byte {
	b = append(b, '{')
	if start.File != "" {
		b = append(b, `"file":`...)
		b = api.AppendJSONString(b, start.File)
		b = append(b, ',')
	}
	if start.Pos != 0 {
		b = append(b, `"pos":`...)
		b = strconv.AppendUint(b, uint64(start.Pos), 10)
		b = append(b, ',')
	}
	if start.GTIDs != "" {
		b = append(b, `"gtids":`...)
		b = api.AppendJSONString(b, start.GTIDs)
		b = append(b, ',')
	}
	b = append(b, `"snapshot":{"table":`...)
	return api.AppendJSONString(b, table)
}

// appendSnapshotTail appends the other tables in progress and through, and
// closes both objects.
func appendSnapshotTail(b []byte, open []tableKeys, through string) []byte {
	if len(open) > 0 {
		b = append(b, `,"open":[`...)
		for i, o := range open {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"table":`...)
			b = api.AppendJSONString(b, o.Table)
			b = appendKeyRows(b, o.Key, o.Rows)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if through != "" {
		b = append(b, `,"through":`...)
		b = api.AppendJSONString(b, through)
	}
	return append(b, "}}"...)
}

// appendSnapshot appends one record's position: head, its key, rows and
// done, tail.
func appendSnapshot(b, head []byte, sp *snapshotPos, tail []byte) []byte {
	b = append(b, head...)
	b = appendKeyRows(b, sp.Key, sp.Rows)
	if sp.Done {
		b = append(b, `,"done":true`...)
	}
	return append(b, tail...)
}

func appendKeyRows(b []byte, key []string, rows int) []byte {
	if len(key) > 0 {
		b = append(b, `,"key":[`...)
		for i, k := range key {
			if i > 0 {
				b = append(b, ',')
			}
			b = api.AppendJSONString(b, k)
		}
		b = append(b, ']')
	}
	if rows != 0 {
		b = append(b, `,"rows":`...)
		b = strconv.AppendInt(b, int64(rows), 10)
	}
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
	if p.Snapshot != nil {
		if p.Snapshot.Table == "" {
			return nil, fmt.Errorf("%w: %q: snapshot without table", ErrBadPosition, b)
		}
		for _, o := range p.Snapshot.Open {
			if o.Table == "" || o.Table == p.Snapshot.Table {
				return nil, fmt.Errorf("%w: %q: bad open table %q", ErrBadPosition, b, o.Table)
			}
		}
	}
	return &p, nil
}
