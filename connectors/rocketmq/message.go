package rocketmq

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/transform/template"
)

// The CloudEvents RocketMQ binding (attributes as CE_* properties,
// datacontenttype as CE_contenttype) is package kit's kit.RocketMQ.
const (
	maxTopicLen       = 127
	maxPropertyBytes  = 32767 // the broker stores the properties' length as a Java short
	fixedMessageBytes = 22    // per-message framing inside a batch: 5 int32 and one int16
	autoCreateTopic   = "TBW102"
)

// propMessageGroup is RocketMQ 5's message group property
// (MessageConst.PROPERTY_SHARDING_KEY): what a 5.x broker or proxy reads
// to type a message FIFO, and what its gRPC clients see as the message
// group. A proxy that checks message types (its default) refuses a FIFO
// topic's messages without it and other topics' messages with it, so it
// is set only with message.type=FIFO. The 4.x client's SHARDING_KEY is a
// different property.
const propMessageGroup = "__SHARDINGKEY"

// emptyBody stands for an event without data in binary and data mode: RocketMQ
// refuses empty bodies, and the CloudEvents Java binding reads a single
// NUL byte back as "no data".
var emptyBody = []byte{0}

// encoder turns records into RocketMQ messages. It is used by one
// goroutine at a time (Write).
type encoder struct {
	topic, tag, keys *template.Param
	body             kit.Body
	ordered          bool
	fifo             bool // message.type=FIFO: set the message group
	maxBytes         int
	buf              []byte // scratch for rendering parameters

	// uniqID makes each message's UNIQ_KEY (newUniqID).
	uniqID func() string
	// arena holds the frames of the messages encoded since the last
	// reset; props and setProp are the properties of the one being
	// encoded.
	arena   []byte
	props   []property
	setProp func(name, value string)
}

// property is one message property.
type property struct{ name, value string }

// message is one record ready to send.
type message struct {
	index int // in the batch given to Write
	topic string
	queue *primitive.MessageQueue // the queue chosen, nil before the topic's route is known
	shard string                  // sharding key: the queue is chosen by its hash

	// frame is the message in the batch encoding (see bodyAt): what a
	// batch message's body concatenates, and what a message sent alone
	// is built from; its length is the bytes it takes in a batch. Its
	// bytes do not change once encoded.
	frame []byte
	sent  bool // sent, or rejected, before the rest were grouped
	group int  // the group plan put it in

	// The record's source partition and position (the next offset) for
	// the position map; mapped when the position is a decimal offset.
	part   string
	next   int64
	mapped bool
}

// The batch encoding of one message, as rocketmq-client-go's
// Message.Marshal writes it and the broker's batch decoding reads it: five
// big-endian int32 (total size, magic code 0, body CRC 0, flag 0, body
// size), the body, an int16 properties size, the properties as
// name 0x01 value 0x02 each.
const (
	nameValueSeparator = '\x01'
	propertySeparator  = '\x02'
	bodyAt             = 20 // the body's offset in a frame
)

// encode builds the message for r, appending its frame to the arena. Its
// error is one that resending cannot fix: the caller reports it against
// the record.
//
// A frame's bytes stay as they are until reset: the arena is only
// appended to past its length, and cut back only over a message that
// failed; when it grows, the frames already encoded stay in the old
// array, which nothing writes to.
func (e *encoder) encode(index int, r *api.Record) (message, error) {
	lo := len(e.arena)
	m, err := e.appendMessage(index, r)
	if err != nil {
		e.arena = e.arena[:lo]
		return message{}, err
	}
	m.frame = e.arena[lo:]
	return m, nil
}

func (e *encoder) appendMessage(index int, r *api.Record) (message, error) {
	ev := &r.Event
	topic, err := e.render(e.topic, ev)
	if err != nil {
		return message{}, err
	}
	if err := checkTopic(topic); err != nil {
		return message{}, err
	}
	if e.setProp == nil {
		e.setProp = e.set
	}
	if e.uniqID == nil {
		e.uniqID = newUniqID
	}
	e.props = e.props[:0]
	lo := len(e.arena)
	e.arena = append(e.arena, make([]byte, bodyAt)...)
	body, err := kit.RocketMQ.Encode(e.body, ev, e.arena, e.setProp)
	if err != nil {
		return message{}, err
	}
	switch {
	case e.body == kit.BodyStructured:
		e.arena = body // appended in place: the body is written once
	case len(body) == 0:
		e.arena = append(e.arena, emptyBody...)
	default:
		e.arena = append(e.arena, body...)
	}
	bodyLen := len(e.arena) - lo - bodyAt
	tag, err := e.render(e.tag, ev)
	if err != nil {
		return message{}, err
	}
	if tag != "" {
		e.props = append(e.props, property{primitive.PropertyTags, tag})
	}
	recordKey := keyText(r.Key)
	keys := recordKey
	if e.keys.IsSet() {
		if keys, err = e.render(e.keys, ev); err != nil {
			return message{}, err
		}
	}
	// The event id is a key too, so a consumer can look a message up by
	// it and spot the duplicates a replay after a crash produces.
	switch {
	case keys == "":
		keys = ev.ID
	case ev.ID != "" && keys != ev.ID:
		keys = keys + primitive.PropertyKeySeparator + ev.ID
	}
	if keys != "" {
		e.props = append(e.props, property{primitive.PropertyKeys, keys})
	}
	shard := ""
	if e.ordered {
		shard = recordKey
		if shard == "" && e.keys.IsSet() {
			shard = keys
		}
		if shard != "" {
			e.props = append(e.props, property{primitive.PropertyShardingKey, shard})
		}
	}
	if e.fifo {
		// A keyless record still needs a group to be a FIFO message;
		// its keys (at least the event id) make one of its own.
		if group := cmp.Or(shard, keys); group != "" {
			e.props = append(e.props, property{propMessageGroup, group})
		}
	}
	// A unique id per message, as the producer sets on single sends: in a
	// batch it would otherwise have none but the broker's offset id.
	e.props = append(e.props, property{primitive.PropertyUniqueClientMessageIdKeyIndex, e.uniqID()})

	plen := 0
	for _, p := range e.props {
		if hasSeparator(p.name) || hasSeparator(p.value) {
			return message{}, fmt.Errorf("%w: %s", errPropertyChar, p.name)
		}
		plen += len(p.name) + len(p.value) + 2
	}
	if plen > maxPropertyBytes {
		return message{}, fmt.Errorf("%w: properties take %d bytes, the broker accepts at most %d", errTooLarge, plen, maxPropertyBytes)
	}
	size := fixedMessageBytes + bodyLen + plen
	if size > e.maxBytes {
		return message{}, fmt.Errorf("%w: %d bytes, max.message.bytes is %d", errTooLarge, size, e.maxBytes)
	}
	e.arena = binary.BigEndian.AppendUint16(e.arena, uint16(plen))
	for _, p := range e.props {
		e.arena = append(e.arena, p.name...)
		e.arena = append(e.arena, nameValueSeparator)
		e.arena = append(e.arena, p.value...)
		e.arena = append(e.arena, propertySeparator)
	}
	head := e.arena[lo : lo+bodyAt]
	binary.BigEndian.PutUint32(head[0:], uint32(size))
	// magic code, body CRC and flag stay 0
	binary.BigEndian.PutUint32(head[16:], uint32(bodyLen))
	return message{index: index, topic: topic, shard: shard}, nil
}

// hasSeparator reports whether s holds a byte that frames properties.
func hasSeparator(s string) bool {
	return strings.IndexByte(s, nameValueSeparator) >= 0 || strings.IndexByte(s, propertySeparator) >= 0
}

// set records a property the binding sets; a name set again keeps the
// last value, as a property map would.
func (e *encoder) set(name, value string) {
	for i := range e.props {
		if e.props[i].name == name {
			e.props[i].value = value
			return
		}
	}
	e.props = append(e.props, property{name, value})
}

// reset forgets the arena's frames; it keeps the arena's memory unless it
// grew past maxRetainedBytes.
func (e *encoder) reset() {
	e.arena = e.arena[:0]
	if cap(e.arena) > maxRetainedBytes {
		e.arena = nil
	}
}

// maxRetainedBytes bounds each buffer a sink keeps between Writes (the
// encoder's arena, the sink's wire buffer; each takes about 1.2 MiB for a
// Write of 1,024 records of 1 KiB): a Write of far larger records gets
// buffers of its own, left to the collector.
const maxRetainedBytes = 16 << 20

// parts splits m's frame into its body and its properties.
func (m *message) parts() (body, props []byte) {
	n := int(binary.BigEndian.Uint32(m.frame[16:]))
	return m.frame[bodyAt : bodyAt+n], m.frame[bodyAt+n+2:]
}

// single returns m as the library's message, for a send of m alone.
func (m *message) single() *primitive.Message {
	body, props := m.parts()
	pm := make(map[string]string, bytes.Count(props, []byte{propertySeparator}))
	for len(props) > 0 {
		kv, rest, _ := bytes.Cut(props, []byte{propertySeparator})
		k, v, _ := bytes.Cut(kv, []byte{nameValueSeparator})
		pm[string(k)] = string(v)
		props = rest
	}
	msg := primitive.NewMessage(m.topic, body)
	msg.WithProperties(pm)
	msg.Queue = m.queue
	return msg
}

// render returns the parameter's value for ev ("" when unset).
func (e *encoder) render(p *template.Param, ev *api.Event) (string, error) {
	if c, ok := p.Constant(); ok {
		return c, nil
	}
	if !p.IsSet() {
		return "", nil
	}
	out, err := p.Render(ev, e.buf[:0])
	e.buf = out[:0]
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// checkTopic applies the broker's rules for topic names.
func checkTopic(t string) error {
	switch {
	case t == "":
		return errTopicEmpty
	case len(t) > maxTopicLen:
		return fmt.Errorf("%w: %d characters, at most %d", errTopicInvalid, len(t), maxTopicLen)
	case t == autoCreateTopic:
		return fmt.Errorf("%w: %s is the broker's auto-create template topic", errTopicInvalid, t)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '%' || c == '|' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q has %q; allowed are letters, digits, %%, |, _ and -", errTopicInvalid, t, c)
		}
	}
	return nil
}

// keyText is a record key as property text. Keys are bytes and may be
// binary (a packed integer, say), which a property cannot carry: a key
// that is not valid UTF-8 or holds control characters is written in
// base64 instead, so such records are still sent rather than rejected.
// The queue is chosen by this text, so it is still one queue per key.
func keyText(k []byte) string {
	if !utf8.Valid(k) {
		return base64.StdEncoding.EncodeToString(k)
	}
	for _, c := range k {
		if c < 0x20 || c == 0x7f {
			return base64.StdEncoding.EncodeToString(k)
		}
	}
	return string(k)
}
