package kafka

import (
	"bytes"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/transform/template"
)

// Framing a record adds inside a record batch (attributes, timestamp and
// offset deltas, lengths as varints; bounded above), and the batch
// header a request adds once.
const (
	recordOverhead = 24
	headerOverhead = 10
	batchOverhead  = 61
)

// message is one Kafka record ready to send. Its byte slices point into
// the sink's arena or into the record given to Write, so it lives only
// as long as that Write.
type message struct {
	index     int  // of its record in the batch given to Write
	last      bool // the record's last message (a delete's tombstone comes after it)
	topic     string
	partition int
	key       []byte // nil: no key
	value     []byte // nil: a tombstone
	headers   []kafkago.Header
	time      time.Time
	size      int
}

// encoder turns records into messages. It is used by Write's goroutine
// only; its buffers are reused across Writes and must not be touched
// while a send is in flight.
type encoder struct {
	topic, key, partition *template.Param
	headers               []header
	body                  kit.Body
	tombstones            bool
	maxBytes              int
	op                    *template.Template // $.data.op

	buf     []byte           // arena for rendered values; grows by append, so earlier slices stay valid
	hvals   []byte           // arena for the binding's header values, the same way (Encode appends to buf meanwhile)
	hdrs    []kafkago.Header // arena for headers, the same way
	scratch []byte
	pending []kafkago.Header // headers Encode reports, before they go to the arena
}

func newEncoder(c api.Config) (*encoder, error) {
	topic, err := topicParam.Compile(c)
	if err != nil {
		return nil, err
	}
	key, err := keyParam.Compile(c)
	if err != nil {
		return nil, err
	}
	part, err := partitionParam.Compile(c)
	if err != nil {
		return nil, err
	}
	hs, err := compileHeaders(c)
	if err != nil {
		return nil, err
	}
	return &encoder{topic: topic, key: key, partition: part, headers: hs, body: kit.BodyOf(c),
		tombstones: c.Bool("tombstones.on.delete"), maxBytes: c.Int("max.message.bytes"),
		op: template.MustCompile(template.JSONPath, "$.data.op", "")}, nil
}

// reset forgets the messages of the last Write; drop also lets their
// memory go (after a failed Write, whose requests may still be read by
// the client).
func (e *encoder) reset(drop bool) {
	if drop {
		e.buf, e.hvals, e.hdrs = nil, nil, nil
		return
	}
	e.buf, e.hvals, e.hdrs = e.buf[:0], e.hvals[:0], e.hdrs[:0]
}

// topicOf renders the record's topic from the event (a constant topic
// is not rendered); the error is the record's fault.
func (e *encoder) topicOf(ev *api.Event) ([]byte, error) {
	out, err := e.topic.Render(ev, e.scratch[:0])
	e.scratch = out
	if err != nil {
		return nil, err
	}
	if err := kit.CheckTopic(string(out)); err != nil {
		return nil, err
	}
	return out, nil
}

// partitionOf renders the manual partition of ev.
func (e *encoder) partitionOf(ev *api.Event) (int, error) {
	out, err := e.partition.Render(ev, e.scratch[:0])
	e.scratch = out
	if err != nil {
		return 0, err
	}
	return parsePartition(out)
}

// encode appends to msgs the message of record r (and its tombstone),
// for topic; partition is filled in by the caller. The error is the
// record's own fault: resending cannot fix it.
func (e *encoder) encode(msgs []message, index int, r *api.Record, topic string) ([]message, error) {
	ev := &r.Event
	m := message{index: index, last: true, topic: topic, time: ev.Time}
	if m.time.IsZero() {
		m.time = time.Now()
	}
	// Key.
	if e.key.IsSet() {
		start := len(e.buf)
		out, err := e.key.Render(ev, e.buf)
		if err != nil {
			return msgs, err
		}
		e.buf = out
		m.key = out[start:len(out):len(out)]
		if len(m.key) == 0 {
			m.key = nil
		}
	} else if len(r.Key) > 0 {
		m.key = r.Key
	}
	// Body and the binding's headers.
	e.pending = e.pending[:0]
	start := len(e.buf)
	out, err := kit.Kafka.Encode(e.body, ev, e.buf, func(k, v string) {
		vstart := len(e.hvals)
		e.hvals = append(e.hvals, v...)
		b := e.hvals[vstart:len(e.hvals):len(e.hvals)]
		if b == nil {
			b = []byte{} // an empty value, not a null one
		}
		e.pending = append(e.pending, kafkago.Header{Key: k, Value: b})
	})
	if err != nil {
		return msgs, err
	}
	if e.body == kit.BodyStructured {
		e.buf = out
		m.value = out[start:len(out):len(out)]
	} else {
		m.value = out
		if m.value == nil {
			m.value = []byte{} // an event without data is not a tombstone
		}
	}
	// User headers.
	hstart := len(e.hdrs)
	e.hdrs = append(e.hdrs, e.pending...)
	for _, h := range e.headers {
		vstart := len(e.buf)
		out, err := h.value.Render(ev, e.buf)
		if err != nil {
			return msgs, err
		}
		e.buf = out
		e.hdrs = append(e.hdrs, kafkago.Header{Key: h.name, Value: out[vstart:len(out):len(out)]})
	}
	m.headers = e.hdrs[hstart:len(e.hdrs):len(e.hdrs)]
	m.size = recordOverhead + len(m.key) + len(m.value)
	for _, h := range m.headers {
		m.size += headerOverhead + len(h.Key) + len(h.Value)
	}
	if m.size+batchOverhead > e.maxBytes {
		return msgs, fmt.Errorf("%w: %d bytes with its key, headers and framing; max.message.bytes is %d", errTooLarge, m.size+batchOverhead, e.maxBytes)
	}
	if !e.tombstones || m.key == nil || !e.isDelete(ev) {
		return append(msgs, m), nil
	}
	m.last = false
	t := message{index: index, last: true, topic: topic, key: m.key, time: m.time, size: recordOverhead + len(m.key)}
	return append(msgs, m, t), nil
}

// isDelete reports whether ev is a delete in a Debezium-style change
// envelope: JSON data whose top-level op is "d" (the JSONPath $.data.op;
// of repeated keys, the first). It runs on every record of a CDC stream,
// so on data known to be valid JSON (checked by the structured encoding
// just done, or vouched for by its source) where "op" occurs once and no
// \u escape could spell it another way, it reads op from the envelope's
// last members, where the CDC sources write it, without parsing the rest.
// Other data goes through the JSONPath.
func (e *encoder) isDelete(ev *api.Event) bool {
	if len(ev.Data) == 0 || (ev.DataContentType != "" && !api.IsJSONContentType(ev.DataContentType)) {
		return false
	}
	n := countOp(ev.Data)
	if n == 0 {
		return false
	}
	if n == 1 && (e.body == kit.BodyStructured || ev.DataMarkedJSON()) && !hasUnicodeEscape(ev.Data) {
		if v, ok := trailingMember(ev.Data, `"op"`); ok {
			return string(v) == `"d"`
		}
	}
	out, err := e.op.Render(ev, e.scratch[:0])
	e.scratch = out
	return err == nil && string(out) == "d"
}

// countOp counts the occurrences of "op" (with its quotes) in d,
// overlapping ones apart, so it is at least bytes.Count's count and is 1
// only when that is. It looks for the rarer 'p' first (bytes.Count's
// search for a four-byte string steps a byte at a time through JSON,
// whose quotes are everywhere).
func countOp(d []byte) int {
	n := 0
	for i := 2; i < len(d)-1; i++ {
		j := bytes.IndexByte(d[i:len(d)-1], 'p')
		if j < 0 {
			break
		}
		i += j
		if d[i-2] == '"' && d[i-1] == 'o' && d[i+1] == '"' {
			n++
		}
	}
	return n
}

// hasUnicodeEscape reports whether d holds \u, looking for a backslash
// first (there is none in most data).
func hasUnicodeEscape(d []byte) bool {
	return bytes.IndexByte(d, '\\') >= 0 && bytes.Contains(d, []byte(`\u`))
}

// trailingMember finds, in d (valid JSON), the raw value of the last
// top-level member whose raw key is key (with its quotes), walking the
// object's members back from its end while their values are strings,
// numbers or literals. ok is false when it cannot tell: d is not an
// object, a nested value or an escaped key comes first, or no member has
// the key — the caller then parses d.
func trailingMember(d []byte, key string) (value []byte, ok bool) {
	i := skipSpaceBack(d, len(d)-1)
	if i < 0 || d[i] != '}' {
		return nil, false
	}
	for i = skipSpaceBack(d, i-1); i >= 0; {
		end := i + 1 // the value is d[start:end]
		var start int
		switch c := d[i]; {
		case c == '"':
			if start = openingQuote(d, i); start < 0 {
				return nil, false
			}
		case c == '}' || c == ']' || c == '{':
			return nil, false
		default: // a number, true, false or null
			start = i
			for start > 0 && isScalarByte(d[start-1]) {
				start--
			}
		}
		if i = skipSpaceBack(d, start-1); i < 0 || d[i] != ':' {
			return nil, false
		}
		if i = skipSpaceBack(d, i-1); i < 0 || d[i] != '"' {
			return nil, false
		}
		kstart := openingQuote(d, i)
		if kstart < 0 {
			return nil, false
		}
		k := d[kstart : i+1]
		if string(k) == key {
			return d[start:end], true
		}
		if bytes.IndexByte(k, '\\') >= 0 {
			return nil, false
		}
		if i = skipSpaceBack(d, kstart-1); i < 0 || d[i] != ',' {
			return nil, false // the object's first member: no such key
		}
		i = skipSpaceBack(d, i-1)
	}
	return nil, false
}

// openingQuote returns the index of the quote that opens the JSON string
// whose closing quote is d[end]: the nearest quote before it not escaped
// (preceded by an even number of backslashes). It returns -1 if none.
func openingQuote(d []byte, end int) int {
	for j := end - 1; j >= 0; j-- {
		j = bytes.LastIndexByte(d[:j+1], '"')
		if j < 0 {
			return -1
		}
		n := 0
		for k := j - 1; k >= 0 && d[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return j
		}
	}
	return -1
}

func skipSpaceBack(d []byte, i int) int {
	for i >= 0 && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i--
	}
	return i
}

// isScalarByte reports whether c can be part of a JSON number or literal.
func isScalarByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '.' || c == '+' || c == '-' || c == 'E'
}
