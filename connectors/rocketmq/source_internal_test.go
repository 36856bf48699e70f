package rocketmq

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/klauspost/compress/zlib"

	"github.com/ferryhq/ferry/api"
)

// storedMessage encodes one message in the commit log's format, as a
// pull answer carries it (MessageDecoder in the Java sources).
func storedMessage(queueID int32, offset int64, sysFlag int32, body []byte, topic string, props string) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, 0) // size, set below
	b = binary.BigEndian.AppendUint32(b, magicV1)
	b = binary.BigEndian.AppendUint32(b, 0) // body CRC
	b = binary.BigEndian.AppendUint32(b, uint32(queueID))
	b = binary.BigEndian.AppendUint32(b, 0) // flag
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	b = binary.BigEndian.AppendUint64(b, uint64(1000+offset)) // physical offset
	b = binary.BigEndian.AppendUint32(b, uint32(sysFlag))
	b = binary.BigEndian.AppendUint64(b, 1700000000000) // born
	b = append(b, 127, 0, 0, 1)
	b = binary.BigEndian.AppendUint32(b, 5555)
	b = binary.BigEndian.AppendUint64(b, 1700000000123) // stored
	b = append(b, 127, 0, 0, 1)
	b = binary.BigEndian.AppendUint32(b, 10911)
	b = binary.BigEndian.AppendUint32(b, 0) // reconsume times
	b = binary.BigEndian.AppendUint64(b, 0) // prepared transaction offset
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, body...)
	b = append(b, byte(len(topic)))
	b = append(b, topic...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(props)))
	b = append(b, props...)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

func props(kv ...string) string {
	var b strings.Builder
	for i := 0; i < len(kv); i += 2 {
		b.WriteString(kv[i] + "\x01" + kv[i+1] + "\x02")
	}
	return b.String()
}

func TestDecodeStored(t *testing.T) {
	t.Parallel()
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write([]byte(`{"zipped":true}`))
	w.Close()
	body := append(storedMessage(3, 7, 0, []byte(`{"a":1}`), "orders", props("TAGS", "t1", "KEYS", "k1 k2")),
		storedMessage(3, 8, sysFlagCompressed, z.Bytes(), "orders", "")...)
	var got []stored
	err := decodeStored(body, func(m *stored) error {
		c := *m
		c.body = bytes.Clone(m.body)
		got = append(got, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("decoded %d messages, want 2", len(got))
	}
	if m := got[0]; m.queueID != 3 || m.queueOffset != 7 || string(m.body) != `{"a":1}` || string(m.topic) != "orders" ||
		m.bornMs != 1700000000000 || m.storeMs != 1700000000123 {
		t.Errorf("first message: %+v", m)
	}
	if p := appendProps(nil, got[0].props); len(p) != 2 || string(p[0].name) != "TAGS" || string(p[0].value) != "t1" ||
		string(p[1].name) != "KEYS" || string(p[1].value) != "k1 k2" {
		t.Errorf("properties: %v", p)
	}
	if string(got[1].body) != `{"zipped":true}` {
		t.Errorf("compressed body: %q", got[1].body)
	}
	if id := offsetMsgID(&got[0]); id != "7F00000100002A9F00000000000003EF" {
		t.Errorf("offset message id %s", id)
	}
}

// TestDecodeStoredMalformed feeds truncated and corrupt answers: each is
// an error, never a panic or a read past the end.
func TestDecodeStoredMalformed(t *testing.T) {
	t.Parallel()
	good := storedMessage(0, 1, 0, []byte("hello"), "t", props("a", "b"))
	for n := 1; n < len(good); n++ {
		if err := decodeStored(good[:n], func(*stored) error { return nil }); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	bad := bytes.Clone(good)
	binary.BigEndian.PutUint32(bad[4:], 0x12345678)
	if err := decodeStored(bad, func(*stored) error { return nil }); err == nil {
		t.Error("bad magic: no error")
	}
	huge := bytes.Clone(good)
	at := len(huge) - len(props("a", "b")) - 2 - len("t") - 1 - len("hello") - 4
	binary.BigEndian.PutUint32(huge[at:], 0x7fffffff) // body length
	if err := decodeStored(huge, func(*stored) error { return nil }); err == nil {
		t.Error("body length past the end: no error")
	}
}

func FuzzDecodeStored(f *testing.F) {
	f.Add(storedMessage(0, 1, 0, []byte("hello"), "t", props("a", "b")))
	f.Add(storedMessage(1, 2, sysFlagCompressed|compressZSTD, []byte("x"), "t", ""))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = decodeStored(b, func(m *stored) error {
			appendProps(nil, m.props)
			offsetMsgID(m)
			return nil
		})
	})
}

func TestQueueName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		topic, broker string
		id            int
	}{{"orders", "broker-a", 3}, {"a", "b/c", 0}, {"%RETRY%g", "x", 1023}} {
		name := queueName(c.topic, c.broker, c.id)
		topic, q, ok := parseQueueName(name)
		if !ok || topic != c.topic || q.broker != c.broker || q.id != c.id {
			t.Errorf("%s parses as %q %+v %v", name, topic, q, ok)
		}
	}
	for _, bad := range []string{"", "orders", "orders/3", "/b/3", "t//3", "t/b/", "t/b/x", "t/b/-1"} {
		if _, _, ok := parseQueueName(bad); ok {
			t.Errorf("%q parses", bad)
		}
	}
}

// TestRecordModes checks the event of a plain, a binary-mode and an
// undecodable message, with the extensions and key.
func TestRecordModes(t *testing.T) {
	t.Parallel()
	c, err := Source.Spec.Parse(map[string]string{"nameservers": "127.0.0.1:9876", "topic": "orders"})
	if err != nil {
		t.Fatal(err)
	}
	sv, err := newSource(api.TaskConfig{Connector: "c", Tasks: 1, Config: c})
	if err != nil {
		t.Fatal(err)
	}
	s := sv.(*source)
	q := &queue{qid: qid{"b", 2}, name: "orders/b/2", idPrefix: "orders/b/2/", topicValue: "orders", brokerVal: "b", queueVal: int64(2)}
	body := storedMessage(2, 41, 0, []byte(`{"x":1}`), "orders", props("TAGS", "created", "KEYS", "o-1", "UNIQ_KEY", "U1", "region", "eu", "Bad_Name", "v"))
	body = append(body, storedMessage(2, 42, 0, []byte{0}, "orders",
		props("CE_specversion", "1.0", "CE_id", "e1", "CE_source", "/s", "CE_type", "t", "SHARDING_KEY", "sk", "KEYS", "sk e1"))...)
	body = append(body, storedMessage(2, 43, 0, []byte("raw"), "orders", props("CE_specversion", "0.3"))...)
	if err := s.records(q, body); err != nil {
		t.Fatal(err)
	}
	if len(s.pending) != 3 {
		t.Fatalf("%d records", len(s.pending))
	}
	p := s.pending[0]
	if e := p.Event; e.ID != "orders/b/2/41" || e.Source != "/ferry/rocketmq/c" || e.Type != EventType || e.Subject != "orders" ||
		e.DataContentType != "application/json" || string(e.Data) != `{"x":1}` ||
		e.Extensions[ExtTag] != "created" || e.Extensions[ExtKeys] != "o-1" || e.Extensions[ExtMsgID] != "U1" ||
		e.Extensions["region"] != "eu" || e.Extensions[ExtOffset] != int64(41) || e.Extensions[ExtQueue] != int64(2) {
		t.Errorf("plain: %+v", e)
	}
	if _, ok := p.Event.Extensions["Bad_Name"]; ok {
		t.Error("a property that is not an attribute name became an extension")
	}
	if string(p.Key) != "o-1" || p.Partition != "orders/b/2" || string(p.Position) != "42" {
		t.Errorf("plain record: key %q partition %q position %q", p.Key, p.Partition, p.Position)
	}
	b := s.pending[1]
	if e := b.Event; e.ID != "e1" || e.Source != "/s" || e.Data != nil || string(b.Key) != "sk" {
		t.Errorf("binary: %+v key %q", e, b.Key)
	}
	s.keyed, s.pending = false, nil // order=concurrent
	if err := s.records(q, body); err != nil || s.pending[0].Key != nil || s.pending[1].Key != nil {
		t.Errorf("order=concurrent: keys %q %q (%v), want none", s.pending[0].Key, s.pending[1].Key, err)
	}
	bad := s.pending[2]
	if e := bad.Event; e.ID != "orders/b/2/43" || e.Extensions[ExtDecodeError] == nil || string(e.Data) != "raw" {
		t.Errorf("undecodable: %+v", e)
	}
}

func TestParseTags(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]int{"": 0, "*": 0, "a": 1, "a || b": 2, " a||b ||c ": 3} {
		tags, err := parseTags(v)
		if err != nil || len(tags) != want {
			t.Errorf("%q: %v %v", v, tags, err)
		}
	}
	for _, v := range []string{"a ||", "|| a", "a || * ", "a\x01", strings.Repeat("a||", maxTags) + "b", strings.Repeat("x", maxFilterLen+1)} {
		if _, err := parseTags(v); err == nil {
			t.Errorf("%.40q: accepted", v)
		}
	}
}
