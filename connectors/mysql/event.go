package mysql

import (
	"strconv"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// Event types. The Debezium op letter is in the data as well.
const (
	TypeInsert    = "ferry.mysql.insert"      // op c
	TypeUpdate    = "ferry.mysql.update"      // op u
	TypeDelete    = "ferry.mysql.delete"      // op d
	TypeRead      = "ferry.mysql.read"        // op r, snapshot
	TypeDDL       = "ferry.mysql.ddl"         // schema change
	TypeHeartbeat = "ferry.mysql.heartbeat"   // position only
	TypeTx        = "ferry.mysql.transaction" // BEGIN / END
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
	b = api.AppendJSONString(b, s.info.flavor)
	b = append(b, `,"name":`...)
	b = api.AppendJSONString(b, s.connector)
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
	b = api.AppendJSONString(b, o.db)
	if o.tbl != "" {
		b = append(b, `,"table":`...)
		b = api.AppendJSONString(b, o.tbl)
	}
	b = append(b, `,"file":`...)
	b = api.AppendJSONString(b, o.file)
	b = append(b, `,"pos":`...)
	b = strconv.AppendUint(b, uint64(o.pos), 10)
	b = append(b, `,"row":`...)
	b = strconv.AppendInt(b, int64(o.row), 10)
	b = append(b, `,"gtid":`...)
	if o.gtid == "" {
		b = append(b, "null"...)
	} else {
		b = api.AppendJSONString(b, o.gtid)
	}
	return append(b, '}')
}

// beginEnvelope starts a change event's data with its before image; the
// caller appends the image (or null) after it returns.
func beginEnvelope(sizeHint int) []byte { return kit.BeginEnvelope(sizeHint) }

// finishEnvelope appends the source block, op and ts_ms after the after
// image and closes the object.
func (s *source) finishEnvelope(d []byte, op byte, o *origin, now time.Time) []byte {
	d = append(d, `,"source":`...)
	d = s.appendOrigin(d, o)
	return kit.EndEnvelope(d, op, now.UnixMilli())
}

// newRecord wraps finished data as a record of this source.
func (s *source) newRecord(op byte, subject string, data, key []byte, t time.Time, id string, pos api.Position) api.Record {
	r := api.Record{
		Event: api.Event{
			ID:              id,
			Source:          s.evSource,
			SpecVersion:     api.SpecVersion,
			Type:            opType(op),
			Subject:         subject,
			Time:            t,
			DataContentType: "application/json",
			Data:            data,
		},
		Key:       key,
		Partition: s.partition,
		Position:  pos,
	}
	// The change event was rendered here, so sinks need not validate it
	// again (api.Event.MarkDataJSON).
	r.Event.MarkDataJSON()
	return r
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
