package rocketmq

import (
	"bytes"
	"strconv"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// The extensions every event of the rocketmq source carries, so
// transforms, filters and sink parameters can use where a message came
// from and its RocketMQ attributes.
const (
	ExtTopic     = "rocketmqtopic"     // string
	ExtBroker    = "rocketmqbroker"    // string, the broker group's name
	ExtQueue     = "rocketmqqueue"     // int64, the queue id
	ExtOffset    = "rocketmqoffset"    // int64, the queue offset
	ExtMsgID     = "rocketmqmsgid"     // string, the message id (UNIQ_KEY, else the offset message id)
	ExtTag       = "rocketmqtag"       // string, when the message has a tag
	ExtKeys      = "rocketmqkeys"      // string, the message keys (space-separated), when it has any
	ExtBornTime  = "rocketmqborntime"  // time.Time, when the producer made the message
	ExtStoreTime = "rocketmqstoretime" // time.Time, when the broker stored it
	// ExtDecodeError holds why a message that claims to be a CloudEvent
	// (CE_specversion, a structured content type) is not a valid one; the
	// event then carries the message as plain data.
	ExtDecodeError = "rocketmqdecodeerror"
)

// System properties the source reads (MessageConst in the Java sources).
const (
	propTags        = "TAGS"
	propKeys        = "KEYS"
	propUniqKey     = "UNIQ_KEY"
	propShardingKey = "SHARDING_KEY"
)

// records appends the records of one pull answer's messages to
// s.pending. Messages whose tag the broker's filter let through only by
// hash (it compares tags' hash codes) are dropped here.
func (s *source) records(q *queue, body []byte) error {
	return decodeStored(body, func(m *stored) error {
		if m.queueOffset < q.next {
			return nil
		}
		s.props = appendProps(s.props[:0], m.props)
		if s.tags != nil && !s.tags[string(s.prop(propTags))] {
			return nil
		}
		s.pending = append(s.pending, s.record(q, m))
		q.handed = m.queueOffset + 1
		return nil
	})
}

func (s *source) prop(name string) []byte {
	for _, p := range s.props {
		if string(p.name) == name {
			return p.value
		}
	}
	return nil
}

// record makes the Ferry record of one message. The CloudEvents RocketMQ
// binding decides the mode: CE_* properties give the attributes and the
// body is the data (binary mode, what the rocketmq sink writes with
// body=binary), a structured content type makes the body the whole event
// (body=structured), and anything else is a plain message whose body is
// the data, with id <topic>/<broker>/<queue>/<offset>, the topic as
// subject and the born time as time.
func (s *source) record(q *queue, m *stored) api.Record {
	body := m.body
	if len(body) == 1 && body[0] == 0 {
		body = nil // the sink's and the Java binding's "no data"
	}
	// Only CE_* properties matter to the binding (its content type
	// property is CE_contenttype too): the others are not made strings
	// for it.
	props, prefix := s.props, kit.RocketMQ.Prefix()
	headers := func(yield func(string, string) bool) {
		for _, p := range props {
			if bytes.HasPrefix(p.name, []byte(prefix)) && !yield(s.intern.get(p.name), string(p.value)) {
				return
			}
		}
	}
	ev, mode, derr := kit.RocketMQ.Decode(headers, body)
	if derr != nil {
		// Never dropped, never blocking the queue: the message goes on as
		// plain data, marked, for a transform to route.
		ev = api.Event{SpecVersion: api.SpecVersion, Data: body}
		if len(body) > 0 {
			ev.DataContentType = "application/octet-stream"
		}
		mode = kit.ModePlain
	}
	var num [20]byte
	if mode == kit.ModePlain {
		ev.ID = q.idPrefix + string(strconv.AppendInt(num[:0], m.queueOffset, 10))
		ev.Source = s.evSource
		ev.Type = EventType
		ev.Subject = s.topic
		if m.bornMs > 0 {
			ev.Time = time.UnixMilli(m.bornMs).UTC()
		}
	}
	if ev.Extensions == nil {
		ev.Extensions = make(map[string]any, 12)
	}
	x := ev.Extensions
	var tag, keys, uniq, shard []byte
	for _, p := range props {
		switch string(p.name) {
		case propTags:
			tag = p.value
			continue
		case propKeys:
			keys = p.value
			continue
		case propUniqKey:
			uniq = p.value
			continue
		case propShardingKey:
			shard = p.value
			continue
		}
		if bytes.HasPrefix(p.name, []byte(prefix)) || !validName(p.name) {
			continue
		}
		name := s.intern.get(p.name)
		if _, taken := x[name]; !taken && !reservedNames[name] {
			x[name] = string(p.value)
		}
	}
	x[ExtTopic] = q.topicValue
	x[ExtBroker] = q.brokerVal
	x[ExtQueue] = q.queueVal
	x[ExtOffset] = m.queueOffset
	if uniq != nil {
		x[ExtMsgID] = string(uniq)
	} else {
		x[ExtMsgID] = offsetMsgID(m)
	}
	if len(tag) > 0 {
		x[ExtTag] = s.intern.get(tag)
	}
	var keyStr string
	if len(keys) > 0 {
		keyStr = string(keys)
		x[ExtKeys] = keyStr
	}
	if m.bornMs > 0 {
		x[ExtBornTime] = time.UnixMilli(m.bornMs).UTC()
	}
	if m.storeMs > 0 {
		x[ExtStoreTime] = time.UnixMilli(m.storeMs).UTC()
	}
	if derr != nil {
		x[ExtDecodeError] = derr.Error()
	}
	rec := api.Record{
		Event:     ev,
		Partition: q.name,
		Position:  strconv.AppendInt(make([]byte, 0, 8), m.queueOffset+1, 10),
	}
	if s.keyed {
		switch {
		case len(shard) > 0:
			rec.Key = bytes.Clone(shard)
		case keyStr != "":
			rec.Key = []byte(keyStr)
		}
	}
	return rec
}

// validName is api.ValidAttributeName on bytes: lower-case letters and
// digits.
func validName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// reservedNames are CloudEvents attribute names a property must not
// become as an extension.
var reservedNames = map[string]bool{
	"id": true, "source": true, "specversion": true, "type": true, "subject": true,
	"time": true, "datacontenttype": true, "dataschema": true, "data": true,
}
