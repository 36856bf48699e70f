package mysql

import (
	"strconv"
	"time"

	"github.com/ferryhq/ferry/api"
)

// Event types. The Debezium op letter is in the data as well.
const (
	TypeInsert    = "ferry.mysql.insert"    // op c
	TypeUpdate    = "ferry.mysql.update"    // op u
	TypeDelete    = "ferry.mysql.delete"    // op d
	TypeRead      = "ferry.mysql.read"      // op r, snapshot
	TypeDDL       = "ferry.mysql.ddl"       // schema change
	TypeHeartbeat = "ferry.mysql.heartbeat" // position only
)

func opType(op byte) string {
	switch op {
	case 'c':
		return TypeInsert
	case 'u':
		return TypeUpdate
	case 'd':
		return TypeDelete
	}
	return TypeRead
}

// origin is the envelope's "source" block for one record.
type origin struct {
	serverID uint32
	ts       time.Time // when the change was written (binlog header), or the snapshot's start
	snapshot bool
	db, tbl  string
	file     string
	pos      uint32
	row      int
	gtid     string // the transaction's own GTID
}

// appendOrigin appends the "source" object, named after Debezium's fields.
func (s *source) appendOrigin(b []byte, o *origin) []byte {
	b = append(b, `{"version":"ferry","connector":`...)
	b = appendJSONString(b, s.info.flavor)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, s.connector)
	b = append(b, `,"server_id":`...)
	b = strconv.AppendUint(b, uint64(o.serverID), 10)
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, o.ts.UnixMilli(), 10)
	if o.snapshot {
		b = append(b, `,"snapshot":"true"`...)
	} else {
		b = append(b, `,"snapshot":"false"`...)
	}
	b = append(b, `,"db":`...)
	b = appendJSONString(b, o.db)
	if o.tbl != "" {
		b = append(b, `,"table":`...)
		b = appendJSONString(b, o.tbl)
	}
	b = append(b, `,"file":`...)
	b = appendJSONString(b, o.file)
	b = append(b, `,"pos":`...)
	b = strconv.AppendUint(b, uint64(o.pos), 10)
	b = append(b, `,"row":`...)
	b = strconv.AppendInt(b, int64(o.row), 10)
	b = append(b, `,"gtid":`...)
	if o.gtid == "" {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, o.gtid)
	}
	return append(b, '}')
}

// changeRecord assembles a change record from rendered images (nil for
// absent) and key.
func (s *source) changeRecord(op byte, before, after, key []byte, o *origin, id string, pos api.Position, now time.Time) api.Record {
	n := 96 + len(before) + len(after) + 256
	d := make([]byte, 0, n)
	d = append(d, `{"before":`...)
	if before == nil {
		d = append(d, "null"...)
	} else {
		d = append(d, before...)
	}
	d = append(d, `,"after":`...)
	if after == nil {
		d = append(d, "null"...)
	} else {
		d = append(d, after...)
	}
	d = append(d, `,"source":`...)
	d = s.appendOrigin(d, o)
	d = append(d, `,"op":"`...)
	d = append(d, op)
	d = append(d, `","ts_ms":`...)
	d = strconv.AppendInt(d, now.UnixMilli(), 10)
	d = append(d, '}')
	return api.Record{
		Event: api.Event{
			ID:              id,
			Source:          s.evSource,
			SpecVersion:     api.SpecVersion,
			Type:            opType(op),
			Subject:         o.db + "." + o.tbl,
			Time:            o.ts,
			DataContentType: "application/json",
			Data:            d,
		},
		Key:       key,
		Partition: s.partition,
		Position:  pos,
	}
}

// streamID is the deterministic event id of a streamed record: the
// transaction's start and the row's index in it.
func streamID(file string, pos uint32, row int) string {
	b := make([]byte, 0, len(file)+24)
	b = append(b, file...)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(pos), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(row), 10)
	return string(b)
}
