package rocketmq

import (
	"cmp"
	"encoding/base64"
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
}

// message is one record ready to send.
type message struct {
	index int // in the batch given to Write
	msg   *primitive.Message
	size  int    // bytes inside a batch message
	shard string // sharding key: the queue is chosen by its hash

	// The record's source partition and position (the next offset) for
	// the position map; mapped when the position is a decimal offset.
	part   string
	next   int64
	mapped bool
}

// encode builds the message for r. Its error is one that resending cannot
// fix: the caller reports it against the record.
func (e *encoder) encode(index int, r *api.Record) (message, error) {
	ev := &r.Event
	topic, err := e.render(e.topic, ev)
	if err != nil {
		return message{}, err
	}
	if err := checkTopic(topic); err != nil {
		return message{}, err
	}
	props := make(map[string]string, 12)
	var buf []byte
	if e.body == kit.BodyStructured {
		buf = make([]byte, 0, 256+len(ev.Data))
	}
	body, err := kit.RocketMQ.Encode(e.body, ev, buf, func(k, v string) { props[k] = v })
	if err != nil {
		return message{}, err
	}
	if len(body) == 0 {
		body = emptyBody
	}
	tag, err := e.render(e.tag, ev)
	if err != nil {
		return message{}, err
	}
	if tag != "" {
		props[primitive.PropertyTags] = tag
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
		props[primitive.PropertyKeys] = keys
	}
	shard := ""
	if e.ordered {
		shard = recordKey
		if shard == "" && e.keys.IsSet() {
			shard = keys
		}
		if shard != "" {
			props[primitive.PropertyShardingKey] = shard
		}
	}
	if e.fifo {
		// A keyless record still needs a group to be a FIFO message;
		// its keys (at least the event id) make one of its own.
		if group := cmp.Or(shard, keys); group != "" {
			props[propMessageGroup] = group
		}
	}
	// A unique id per message, as the producer sets on single sends: in a
	// batch it would otherwise have none but the broker's offset id.
	props[primitive.PropertyUniqueClientMessageIdKeyIndex] = primitive.CreateUniqID()

	plen := 0
	for k, v := range props {
		if strings.ContainsAny(k, "\x01\x02") || strings.ContainsAny(v, "\x01\x02") {
			return message{}, fmt.Errorf("%w: %s", errPropertyChar, k)
		}
		plen += len(k) + len(v) + 2
	}
	if plen > maxPropertyBytes {
		return message{}, fmt.Errorf("%w: properties take %d bytes, the broker accepts at most %d", errTooLarge, plen, maxPropertyBytes)
	}
	size := fixedMessageBytes + len(body) + plen
	if size > e.maxBytes {
		return message{}, fmt.Errorf("%w: %d bytes, max.message.bytes is %d", errTooLarge, size, e.maxBytes)
	}
	msg := primitive.NewMessage(topic, body)
	msg.WithProperties(props)
	return message{index: index, msg: msg, size: size, shard: shard}, nil
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
