package kafka

import (
	"bytes"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go/protocol"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// The extensions every event of the kafka source carries, so transforms
// can route and filter on where a record came from.
const (
	ExtTopic     = "kafkatopic"     // string
	ExtPartition = "kafkapartition" // int64
	ExtOffset    = "kafkaoffset"    // int64
	ExtTimestamp = "kafkatimestamp" // time.Time, the record's timestamp
	// ExtTombstone is true on a record whose value is null (a delete in a
	// compacted topic): the event has no data.
	ExtTombstone = "kafkatombstone"
	// ExtDecodeError holds why a record that claims to be a CloudEvent
	// (structured content type, ce_specversion header) is not a valid one;
	// the event then carries the record as plain data.
	ExtDecodeError = "kafkadecodeerror"
	// ExtKey is the CloudEvents Kafka binding's partitionkey extension:
	// the record's key, when it is UTF-8 text (Record.Key always has it).
	ExtKey = "partitionkey"
)

// reservedNames are CloudEvents attribute names a header must not become
// as an extension.
var reservedNames = map[string]bool{
	"id": true, "source": true, "specversion": true, "type": true, "subject": true,
	"time": true, "datacontenttype": true, "dataschema": true, "data": true,
}

// record makes the Ferry record of one Kafka record. The binding decides
// the mode: a structured-mode value decodes to its event, binary-mode ce_*
// headers give the attributes and the value is the data, and anything
// else is a plain record whose value is the data (JSON as JSON, other
// bytes base64 in structured output, by datacontenttype), with id
// <topic>-<partition>-<offset>, the topic as subject and the record's
// timestamp as time.
//
// It runs once per record read, so it spends allocations carefully: the
// mode is found with a loop over the header slice (not the binding's
// iterator), a structured value is decoded where kafka-go holds it (the
// decoder copies what it keeps), common content types are not copied into
// new strings, and positions are cut from a shared slab.
func (d *decoder) record(p *part, r *protocol.Record) (api.Record, error) {
	var key []byte
	var err error
	if r.Key != nil {
		if key, err = protocol.ReadAll(r.Key); err != nil {
			return api.Record{}, err
		}
	}
	ct, hasSpec := "", false
	for i := range r.Headers {
		switch h := &r.Headers[i]; {
		case kit.Kafka.IsContentType(h.Key):
			ct = headerText(h.Value)
		case kit.Kafka.IsSpecVersion(h.Key):
			hasSpec = true
		}
	}
	mode := kit.DetectMode(ct, hasSpec)
	var value []byte // nil: a null value (tombstone)
	if r.Value != nil {
		if mode == kit.ModeStructured {
			value, err = d.borrow(r.Value)
		} else {
			value, err = protocol.ReadAll(r.Value)
		}
		if err != nil {
			return api.Record{}, err
		}
	}
	headers := func(yield func(string, string) bool) {
		for _, h := range r.Headers {
			if !yield(h.Key, headerText(h.Value)) {
				return
			}
		}
	}
	ev, derr := kit.Kafka.DecodeMode(mode, ct, headers, value)
	if derr != nil {
		// Never dropped, never blocking the partition: the record goes on
		// as plain data, marked, for a transform to route.
		if mode == kit.ModeStructured && value != nil {
			value = bytes.Clone(value) // not kafka-go's buffer
		}
		ev = api.Event{SpecVersion: api.SpecVersion, Data: value}
		if len(value) > 0 {
			ev.DataContentType = "application/octet-stream"
		}
		mode = kit.ModePlain
		ev.SetExtension(ExtDecodeError, derr.Error())
	}
	if mode == kit.ModePlain {
		var num [20]byte
		ev.ID = p.idPrefix + string(strconv.AppendInt(num[:0], r.Offset, 10))
		ev.Source = d.evSource
		ev.Type = EventType
		ev.Subject = p.topic
		if !r.Time.IsZero() {
			ev.Time = r.Time.UTC()
		}
	}
	if ev.Extensions == nil {
		ev.Extensions = make(map[string]any, 6+len(r.Headers))
	}
	x := ev.Extensions
	prefix, ctHeader := kit.Kafka.Prefix(), kit.Kafka.ContentTypeHeader()
	for _, h := range r.Headers {
		name := h.Key
		if name == ctHeader || len(name) >= len(prefix) && name[:len(prefix)] == prefix ||
			reservedNames[name] || !api.ValidAttributeName(name) || !utf8.Valid(h.Value) {
			continue
		}
		if _, taken := x[name]; !taken {
			x[name] = string(h.Value)
		}
	}
	if key != nil && utf8.Valid(key) {
		if _, taken := x[ExtKey]; !taken {
			x[ExtKey] = string(key)
		}
	}
	x[ExtTopic] = p.topicValue
	x[ExtPartition] = int64(p.id)
	x[ExtOffset] = r.Offset
	if !r.Time.IsZero() {
		x[ExtTimestamp] = d.timestamp(r.Time)
	}
	if r.Value == nil {
		x[ExtTombstone] = true
	}
	return api.Record{
		Event:     ev,
		Key:       key,
		Partition: p.name,
		Position:  d.positionText(r.Offset + 1),
	}, nil
}

// decoder is what decoding records needs besides the partition: the
// source's name for plain events and buffers reused from record to record.
// Each goroutine that decodes has its own.
type decoder struct {
	evSource string
	scratch  []byte // a value kafka-go holds in two pieces, joined
	posSlab  []byte // where record cuts positions from
	view     pieceWriter
	// lastTime is the last record timestamp boxed, shared by the records
	// after it with the same one (a producer's batch often has one).
	lastTime    time.Time
	lastTimeBox any
}

// timestamp returns t in UTC as an extension value, the one boxed for
// the record before when the time is the same: an interface's value is
// never changed, so events can share it.
func (d *decoder) timestamp(t time.Time) any {
	if d.lastTimeBox == nil || !t.Equal(d.lastTime) {
		d.lastTime, d.lastTimeBox = t, t.UTC()
	}
	return d.lastTimeBox
}

// borrow returns the bytes of a record value, valid until the value is
// closed and only to be read: kafka-go's own buffer when it holds the
// value in one piece (a value crosses one of its 64 KiB pages seldom),
// else the pieces joined in the decoder's scratch buffer, which the next
// record reuses. For a value nothing keeps (a structured event, which the
// decoder copies), it spares the copy protocol.ReadAll makes.
func (d *decoder) borrow(b protocol.Bytes) ([]byte, error) {
	n := b.Len()
	if wt, ok := b.(io.WriterTo); ok {
		d.view = pieceWriter{join: d.scratch[:0]}
		_, err := wt.WriteTo(&d.view)
		v := d.view
		d.view = pieceWriter{} // holds no reference into kafka-go's buffer
		if err != nil {
			return nil, err
		}
		out := v.first
		if v.pieces > 1 {
			d.scratch, out = v.join, v.join
		}
		if len(out) != n {
			return nil, io.ErrUnexpectedEOF
		}
		return out, nil
	}
	if cap(d.scratch) < n {
		d.scratch = make([]byte, n)
	}
	buf := d.scratch[:n]
	_, err := io.ReadFull(b, buf)
	return buf, err
}

// pieceWriter receives a value from its io.WriterTo: the first piece as
// the writer's own slice (kept, against io.Writer's rule, only until the
// value is closed: borrow's contract), and when more follow, every piece
// joined in join.
type pieceWriter struct {
	first  []byte
	join   []byte
	pieces int
}

func (w *pieceWriter) Write(p []byte) (int, error) {
	w.pieces++
	switch w.pieces {
	case 1:
		w.first = p
	case 2:
		w.join = append(append(w.join, w.first...), p...)
	default:
		w.join = append(w.join, p...)
	}
	return len(p), nil
}

// posSlab is how many bytes of positions one allocation holds: 256
// records' offsets.
const posSlab = 256 * 20

// positionText returns offset as the decimal text of a Position, cut (with
// its capacity capped, so an append cannot reach its neighbour) from a
// slab shared by the records read after it.
func (d *decoder) positionText(offset int64) api.Position {
	if cap(d.posSlab)-len(d.posSlab) < 20 {
		d.posSlab = make([]byte, 0, posSlab)
	}
	start := len(d.posSlab)
	d.posSlab = strconv.AppendInt(d.posSlab, offset, 10)
	return api.Position(d.posSlab[start:len(d.posSlab):len(d.posSlab)])
}

// headerText is a header's value as a string, without copying the values
// almost every record carries (the content types and specversion).
func headerText(v []byte) string {
	switch string(v) {
	case "application/cloudevents+json":
		return "application/cloudevents+json"
	case "application/json":
		return "application/json"
	case "text/plain":
		return "text/plain"
	case "application/octet-stream":
		return "application/octet-stream"
	case api.SpecVersion:
		return api.SpecVersion
	}
	return string(v)
}
