package rocketmq

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

func testEncoder(t testing.TB, cfg map[string]string) *encoder {
	t.Helper()
	c := api.NewConfig(cfg)
	topic, err := topicParam.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := tagParam.Compile(c)
	keys, _ := keysParam.Compile(c)
	return &encoder{topic: topic, tag: tag, keys: keys, body: kit.BodyOf(c), ordered: cfg["ordered"] != "false",
		fifo: cfg["message.type"] == "FIFO", maxBytes: defaultMaxMessageBytes}
}

func TestCheckTopic(t *testing.T) {
	t.Parallel()
	cases := []struct {
		topic string
		want  error
	}{
		{"orders", nil},
		{"a-b_c%d|e9", nil},
		{strings.Repeat("t", 127), nil},
		{"", errTopicEmpty},
		{strings.Repeat("t", 128), errTopicInvalid},
		{"has space", errTopicInvalid},
		{"dot.ted", errTopicInvalid},
		{"TBW102", errTopicInvalid},
		{"ünï", errTopicInvalid},
	}
	for _, c := range cases {
		t.Run(c.topic, func(t *testing.T) {
			t.Parallel()
			if err := checkTopic(c.topic); !errors.Is(err, c.want) {
				t.Errorf("checkTopic(%q) = %v, want %v", c.topic, err, c.want)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	t.Parallel()
	ev := api.Event{ID: "e1", Source: "/s", SpecVersion: "1.0", Type: "t", DataContentType: "application/json",
		Data: []byte(`{"table":"orders","id":7,"op":"u"}`), Time: time.Unix(0, 0)}
	cases := []struct {
		name      string
		cfg       map[string]string
		key       string
		topic     string
		props     map[string]string // expected properties ("" = absent)
		shard     string
		errTarget error
	}{
		{"constant, record key", map[string]string{"topic": "t1"}, "k1", "t1",
			map[string]string{"KEYS": "k1 e1", "SHARDING_KEY": "k1", "TAGS": "", "CE_contenttype": kit.StructuredContentType}, "k1", nil},
		{"no record key", map[string]string{"topic": "t1"}, "", "t1",
			map[string]string{"KEYS": "e1", "SHARDING_KEY": ""}, "", nil},
		{"unordered", map[string]string{"topic": "t1", "ordered": "false"}, "k1", "t1",
			map[string]string{"KEYS": "k1 e1", "SHARDING_KEY": ""}, "", nil},
		{"from the event", map[string]string{"topic.form": "JSONPATH", "topic.value": "$.data.table",
			"tag.form": "JSONPATH", "tag.value": "$.data.op", "keys.form": "TEMPLATE", "keys.value": `{"id":"$.data.id"}`, "keys.template": "order-${id}"},
			"k1", "orders", map[string]string{"KEYS": "order-7 e1", "TAGS": "u", "SHARDING_KEY": "k1"}, "k1", nil},
		{"keys param shards keyless records", map[string]string{"topic": "t1", "keys.form": "JSONPATH", "keys.value": "$.data.id"},
			"", "t1", map[string]string{"KEYS": "7 e1", "SHARDING_KEY": "7 e1"}, "7 e1", nil},
		{"binary body", map[string]string{"topic": "t1", "body": "binary"}, "k", "t1",
			map[string]string{"CE_id": "e1", "CE_source": "/s", "CE_type": "t", "CE_specversion": "1.0",
				"CE_time": "1970-01-01T00:00:00Z", "CE_contenttype": "application/json", "CE_subject": ""}, "k", nil},
		{"data body", map[string]string{"topic": "t1", "body": "data"}, "k", "t1",
			map[string]string{"CE_id": "", "CE_source": "", "CE_type": "", "CE_specversion": "",
				"CE_time": "", "CE_contenttype": "", "KEYS": "k e1"}, "k", nil},
		{"topic renders empty", map[string]string{"topic.form": "JSONPATH", "topic.value": "$.data.missing"}, "k", "", nil, "", errTopicEmpty},
		{"binary record key", map[string]string{"topic": "t1"}, "\x00\x01\xff", "t1",
			map[string]string{"KEYS": "AAH/ e1", "SHARDING_KEY": "AAH/"}, "AAH/", nil},
		{"FIFO: the message group is the shard", map[string]string{"topic": "t1", "message.type": "FIFO"}, "k1", "t1",
			map[string]string{"SHARDING_KEY": "k1", "__SHARDINGKEY": "k1"}, "k1", nil},
		{"FIFO: a keyless record's group is its keys", map[string]string{"topic": "t1", "message.type": "FIFO"}, "", "t1",
			map[string]string{"SHARDING_KEY": "", "__SHARDINGKEY": "e1"}, "", nil},
		{"FIFO: binary key", map[string]string{"topic": "t1", "message.type": "FIFO"}, "\x00\x01\xff", "t1",
			map[string]string{"__SHARDINGKEY": "AAH/"}, "AAH/", nil},
		{"tag with separator", map[string]string{"topic": "t1", "tag": "a\x01b"}, "k", "", nil, "", errPropertyChar},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := testEncoder(t, c.cfg)
			m, err := e.encode(3, &api.Record{Event: ev, Key: []byte(c.key)})
			if c.errTarget != nil {
				if !errors.Is(err, c.errTarget) {
					t.Fatalf("encode = %v, want %v", err, c.errTarget)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.index != 3 || m.topic != c.topic || m.shard != c.shard {
				t.Errorf("index %d topic %q shard %q; want 3 %q %q", m.index, m.topic, m.shard, c.topic, c.shard)
			}
			msg := m.single()
			for k, v := range c.props {
				if got := msg.GetProperty(k); got != v {
					t.Errorf("property %s = %q, want %q", k, got, v)
				}
			}
			// RocketMQ 5's message group only for FIFO topics.
			if _, ok := c.props["__SHARDINGKEY"]; !ok && msg.GetProperty("__SHARDINGKEY") != "" {
				t.Errorf("property __SHARDINGKEY = %q without message.type=FIFO", msg.GetProperty("__SHARDINGKEY"))
			}
			if msg.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex) == "" {
				t.Error("no unique message id")
			}
			if want := len(msg.Marshal()); len(m.frame) != want {
				t.Errorf("size %d, the batch encoding takes %d", len(m.frame), want)
			}
		})
	}
}

func TestEncodeTooLarge(t *testing.T) {
	t.Parallel()
	e := testEncoder(t, map[string]string{"topic": "t"})
	e.maxBytes = 1024
	ev := api.Event{ID: "e", Source: "/s", Type: "t", Data: []byte(`"` + strings.Repeat("x", 1100) + `"`)}
	if _, err := e.encode(0, &api.Record{Event: ev}); !errors.Is(err, errTooLarge) {
		t.Errorf("encode = %v, want errTooLarge", err)
	}
	e.maxBytes = 1 << 30
	ev.Data = []byte(`1`)
	ev.Subject = strings.Repeat("s", maxPropertyBytes)
	e.body = kit.BodyBinary
	if _, err := e.encode(0, &api.Record{Event: ev}); !errors.Is(err, errTooLarge) {
		t.Errorf("encode with huge properties = %v, want errTooLarge", err)
	}
}

func TestQueueIndexStable(t *testing.T) {
	t.Parallel()
	// FNV-1a of "key-1" is 0x57e03446: pinned so a change of hash, which
	// would move every key to another queue on upgrade, fails here.
	if got := queueIndex("key-1", 1<<30); got != 0x57e03446%(1<<30) {
		t.Errorf("queueIndex = %#x", got)
	}
	for _, n := range []int{1, 2, 7, 16} {
		for i := range 100 {
			k := fmt.Sprint("k", i)
			if q := queueIndex(k, n); q < 0 || q >= n || q != queueIndex(k, n) {
				t.Fatalf("queueIndex(%q, %d) = %d", k, n, q)
			}
		}
	}
}

func TestSelectorFollowsTheChoice(t *testing.T) {
	t.Parallel()
	s := newSelector()
	mqs := []*primitive.MessageQueue{
		{Topic: "t", BrokerName: "b", QueueId: 1}, {Topic: "t", BrokerName: "a", QueueId: 0},
		{Topic: "t", BrokerName: "b", QueueId: 0}, {Topic: "t", BrokerName: "a", QueueId: 1},
	}
	m := primitive.NewMessage("t", []byte("x"))
	m.WithShardingKey("key-1")
	first := s.Select(m, mqs, "")
	qs := s.queues("t")
	if len(qs) != 4 || qs[0].BrokerName != "a" || qs[0].QueueId != 0 || qs[3].BrokerName != "b" || qs[3].QueueId != 1 {
		t.Fatalf("queues not in (broker, id) order: %v", qs)
	}
	if first != qs[queueIndex("key-1", 4)] {
		t.Errorf("first message went to %v, want the queue its key hashes to", first)
	}
	m.Queue = qs[2]
	if got := s.Select(m, mqs, "b"); got != qs[2] {
		t.Errorf("Select = %v, want the queue set on the message", got)
	}
	// The route shrank: the choice maps deterministically into the new one.
	m.Queue = &primitive.MessageQueue{Topic: "t", BrokerName: "c", QueueId: 5}
	if got := s.Select(m, mqs[:2], ""); got == nil {
		t.Error("Select returned nil for a stale choice")
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]kit.Class{
		errors.New("CODE: 13, DESC: the message body size over max value"): kit.RecordFault,
		errors.New("CODE: 14, DESC: service not available"):                kit.Transient,
		errors.New("CODE: 130, DESC: x"):                                   kit.Transient,
		errors.New("request timeout"):                                      kit.Transient,
	} {
		if got := classify(err); got != want {
			t.Errorf("classify(%v) = %v, want %v", err, got, want)
		}
	}
}

// FuzzEncode feeds arbitrary events through the encoder: it must not
// panic, and what it accepts must be safe to put on the wire.
func FuzzEncode(f *testing.F) {
	f.Add("id", "/src", "type", "subj", `{"t":"orders"}`, "application/json", "key", "ext", true)
	f.Add("", "", "", "", "", "", "", "", false)
	f.Add("a\x01b", "s", "t", "", `"x"`, "text/plain", "k\x02", "v", true)
	f.Fuzz(func(t *testing.T, id, source, typ, subject, data, ct, key, ext string, dataBody bool) {
		cfg := map[string]string{"topic.form": "JSONPATH", "topic.value": "$.data.t", "tag.form": "JSONPATH", "tag.value": "$.subject"}
		if dataBody {
			cfg["body"] = "binary"
		}
		e := testEncoder(t, cfg)
		ev := api.Event{ID: id, Source: source, Type: typ, Subject: subject, Data: []byte(data), DataContentType: ct}
		ev.SetExtension("x", ext)
		m, err := e.encode(0, &api.Record{Event: ev, Key: []byte(key)})
		if err != nil {
			return
		}
		if checkTopic(m.topic) != nil {
			t.Fatalf("accepted topic %q", m.topic)
		}
		msg := m.single()
		if p := msg.MarshallProperties(); strings.Count(p, "\x01") != strings.Count(p, "\x02") {
			t.Fatalf("properties framing broken: %q", p)
		}
		if len(m.frame) > e.maxBytes || len(m.frame) != len(msg.Marshal()) {
			t.Fatalf("size %d, marshalled %d", len(m.frame), len(msg.Marshal()))
		}
	})
}

// FuzzQueueIndex holds queueIndex to hash/fnv's FNV-1a, the hash the
// library's own hash selector uses.
func FuzzQueueIndex(f *testing.F) {
	f.Add("key-1", 8)
	f.Add(`{"id":17}`, 3)
	f.Fuzz(func(t *testing.T, key string, n int) {
		if key == "" || n <= 1 {
			return
		}
		h := fnv.New32a()
		h.Write([]byte(key))
		if got, want := queueIndex(key, n), int(h.Sum32()%uint32(n)); got != want {
			t.Fatalf("queueIndex(%q, %d) = %d, FNV-1a says %d", key, n, got, want)
		}
	})
}
