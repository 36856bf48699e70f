package rocketmq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/rocketmq"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/internal/testbed/rocketmqtest"
)

const queues = 4

// The library logs at info through logrus until the first sink installs
// its slog bridge; the tests create topics before that.
func init() { rlog.SetLogLevel("warn") }

// open builds and opens the sink with cfg (keys relative to "sink.").
func open(t testing.TB, cfg map[string]string) api.Sink {
	t.Helper()
	c, err := rocketmq.Sink.Spec.Parse(cfg)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := rocketmq.Sink.Validate(c); err != nil {
		t.Fatalf("validate: %v", err)
	}
	s, err := rocketmq.Sink.New(api.TaskConfig{Connector: "rmq-test", Config: c, Tasks: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func write(t testing.TB, s api.Sink, recs []api.Record) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Write(ctx, recs)
}

// structured decodes every message of a topic as a structured CloudEvent.
func structured(t testing.TB, msgs [][]*primitive.MessageExt) []api.Event {
	t.Helper()
	var out []api.Event
	for _, q := range msgs {
		for _, m := range q {
			var e api.Event
			if err := json.Unmarshal(m.Body, &e); err != nil {
				t.Fatalf("message %s: body is not a structured CloudEvent: %v: %s", m.MsgId, err, m.Body)
			}
			out = append(out, e)
		}
	}
	return out
}

// TestConformance runs the api/apitest sink kit against the test bed's
// broker. The kit checks that no goroutine started during a case outlives
// Close; rocketmq-client-go's client keeps some for up to 10 s after its
// shutdown (its issue #1147). So the test starts, before the kit, a
// producer with the instance name the sink is configured with: the sinks
// then join that client (the library shares one per instance name) and
// start no goroutine of their own.
func TestConformance(t *testing.T) {
	namesrv, broker := testbed.RocketMQ(t), testbed.RocketMQBroker(t)
	topic := rocketmqtest.Topic(t, "ferry-sink-conf", queues)
	instance := fmt.Sprintf("ferry-sink-conformance-%d", os.Getpid())
	warm, err := rmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{namesrv})),
		producer.WithGroupName("ferry-sink-conformance-warm"),
		producer.WithInstanceName(instance),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := warm.Start(); err != nil {
		t.Fatal(err)
	}
	defer warm.Shutdown()
	ev := apitest.Records("warm", 1)[0].Event
	body, _ := json.Marshal(ev)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Opens the client's connections to the name server and the broker.
	if _, err := warm.SendSync(ctx, primitive.NewMessage(topic, body)); err != nil {
		t.Fatal(err)
	}
	apitest.RunSink(t, apitest.SinkCase{
		Plugin: rocketmq.Sink,
		Config: map[string]string{"nameservers": namesrv, "topic": topic, "instance.name": instance, "batch.size": "7"},
		ReadBack: func(t testing.TB) []api.Event {
			return structured(t, rocketmqtest.ReadQueues(t, broker, topic, queues, -1))
		},
	})
}

func event(id, data string) api.Event {
	return api.Event{ID: id, Source: "/test", SpecVersion: api.SpecVersion, Type: "test.v1",
		DataContentType: "application/json", Data: []byte(data)}
}

// TestTemplates routes by topic, tag and keys rendered from each event.
func TestTemplates(t *testing.T) {
	t.Parallel()
	namesrv, broker := testbed.RocketMQ(t), testbed.RocketMQBroker(t)
	orders, users := rocketmqtest.Topic(t, "ferry-sink-orders", 2), rocketmqtest.Topic(t, "ferry-sink-users", 2)
	s := open(t, map[string]string{
		"nameservers": namesrv,
		"topic.form":  "JSONPATH", "topic.value": "$.data.table",
		"tag.form": "TEMPLATE", "tag.value": `{"op":"$.data.op"}`, "tag.template": "op-${op}",
		"keys.form": "JSONPATH", "keys.value": "$.data.id",
	})
	var recs []api.Record
	for i := range 20 {
		table := orders
		if i%2 == 1 {
			table = users
		}
		recs = append(recs, api.Record{
			Event: event("ev-"+strconv.Itoa(i), fmt.Sprintf(`{"table":%q,"op":"%c","id":"row%d"}`, table, "cud"[i%3], i)),
			Key:   []byte("row" + strconv.Itoa(i)),
		})
	}
	if err := write(t, s, recs); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{orders, users} {
		n := 0
		for _, q := range rocketmqtest.ReadQueues(t, broker, topic, 2, 10) {
			for _, m := range q {
				n++
				var e api.Event
				if err := json.Unmarshal(m.Body, &e); err != nil {
					t.Fatal(err)
				}
				var d struct{ Table, Op, ID string }
				if err := json.Unmarshal(e.Data, &d); err != nil {
					t.Fatal(err)
				}
				if d.Table != topic {
					t.Errorf("event %s for table %s landed in topic %s", e.ID, d.Table, topic)
				}
				if got := m.GetTags(); got != "op-"+d.Op {
					t.Errorf("event %s: tag %q, want %q", e.ID, got, "op-"+d.Op)
				}
				if got, want := strings.Fields(m.GetKeys()), []string{d.ID, e.ID}; !slices.Equal(got, want) {
					t.Errorf("event %s: keys %q, want %q", e.ID, got, want)
				}
			}
		}
		if n != 10 {
			t.Errorf("topic %s holds %d messages, want 10", topic, n)
		}
	}
}

// TestBody checks both body modes and the binding's properties.
func TestBody(t *testing.T) {
	t.Parallel()
	namesrv, broker := testbed.RocketMQ(t), testbed.RocketMQBroker(t)
	t0 := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	ev := event("id-1", `{"a":1}`)
	ev.Subject, ev.Time, ev.DataSchema = "db.t", t0, "https://schema/x"
	ev.SetExtension("partitionkey", "p1")
	ev.SetExtension("seq", int64(42))
	noData := event("id-2", "")
	noData.Data, noData.DataContentType = nil, ""

	cases := []struct {
		name  string
		body  string
		check func(t *testing.T, ms []*primitive.MessageExt)
	}{
		{"structured", "structured", func(t *testing.T, ms []*primitive.MessageExt) {
			m := ms[0]
			if got := m.GetProperty("CE_contenttype"); got != "application/cloudevents+json; charset=UTF-8" {
				t.Errorf("CE_contenttype %q", got)
			}
			var got api.Event
			if err := json.Unmarshal(m.Body, &got); err != nil {
				t.Fatal(err)
			}
			if got.ID != ev.ID || got.Subject != ev.Subject || !got.Time.Equal(t0) || got.Extensions["seq"] != int64(42) || string(got.Data) != `{"a":1}` {
				t.Errorf("read back %+v", got)
			}
		}},
		{"data", "data", func(t *testing.T, ms []*primitive.MessageExt) {
			if m := ms[0]; string(m.Body) != `{"a":1}` || m.GetProperty("CE_id") != "" || m.GetProperty("CE_contenttype") != "" {
				t.Errorf("data body: body %q, properties %v; want the data and no CE_ properties", m.Body, m.GetProperties())
			}
			if n := ms[1]; string(n.Body) != "\x00" {
				t.Errorf("event without data: body %q", n.Body)
			}
		}},
		{"binary", "binary", func(t *testing.T, ms []*primitive.MessageExt) {
			m := ms[0]
			if string(m.Body) != `{"a":1}` {
				t.Errorf("body %q, want the data", m.Body)
			}
			want := map[string]string{
				"CE_id": "id-1", "CE_source": "/test", "CE_specversion": "1.0", "CE_type": "test.v1",
				"CE_subject": "db.t", "CE_time": "2026-05-06T07:08:09.123456789Z", "CE_contenttype": "application/json",
				"CE_dataschema": "https://schema/x", "CE_partitionkey": "p1", "CE_seq": "42",
			}
			for k, v := range want {
				if got := m.GetProperty(k); got != v {
					t.Errorf("property %s = %q, want %q", k, got, v)
				}
			}
			if m.GetProperty("CE_data") != "" {
				t.Errorf("data must not be a property")
			}
			n := ms[1]
			if string(n.Body) != "\x00" || n.GetProperty("CE_id") != "id-2" || n.GetProperty("CE_contenttype") != "" {
				t.Errorf("event without data: body %q, properties %v", n.Body, n.GetProperties())
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			topic := rocketmqtest.Topic(t, "ferry-sink-body", 1)
			s := open(t, map[string]string{"nameservers": namesrv, "topic": topic, "body": c.body})
			if err := write(t, s, []api.Record{{Event: ev, Key: []byte("k")}, {Event: noData, Key: []byte("k")}}); err != nil {
				t.Fatal(err)
			}
			ms := rocketmqtest.ReadQueues(t, broker, topic, 1, 2)[0]
			if len(ms) != 2 {
				t.Fatalf("%d messages, want 2", len(ms))
			}
			if got := strings.Fields(ms[0].GetKeys()); !slices.Equal(got, []string{"k", "id-1"}) {
				t.Errorf("keys %q, want the record key and the event id", got)
			}
			c.check(t, ms)
		})
	}
}

// TestOrderPerKey sends 1000 records over 10 keys in batches of 100 and
// checks that each key's records sit in one queue, in the order sent, and
// that the keys spread over several queues.
func TestOrderPerKey(t *testing.T) {
	t.Parallel()
	namesrv, broker := testbed.RocketMQ(t), testbed.RocketMQBroker(t)
	const n, keys, qs = 1000, 10, 8
	topic := rocketmqtest.Topic(t, "ferry-sink-order", qs)
	s := open(t, map[string]string{"nameservers": namesrv, "topic": topic, "batch.size": "16"})
	writeKeyed(t, s, n, keys, 100)
	checkKeyOrder(t, rocketmqtest.ReadQueues(t, broker, topic, qs, n), n, keys, false)
}

// TestOrderFIFOTopic writes many keyed records to a RocketMQ 5 FIFO topic
// (message.type=FIFO) with message.type=FIFO, several queues sent to at
// once, and checks that each message carries its key as message group
// and each key's records are in one queue, in order.
func TestOrderFIFOTopic(t *testing.T) {
	t.Parallel()
	namesrv, broker := testbed.RocketMQ(t), testbed.RocketMQBroker(t)
	const n, keys, qs = 3000, 64, 8
	topic := rocketmqtest.FIFOTopic(t, "ferry-sink-fifo", qs)
	s := open(t, map[string]string{"nameservers": namesrv, "topic": topic, "message.type": "FIFO",
		"batch.size": "8", "send.parallelism": "8"})
	writeKeyed(t, s, n, keys, 500)
	checkKeyOrder(t, rocketmqtest.ReadQueues(t, broker, topic, qs, n), n, keys, true)
}

// writeKeyed writes n records over keys keys (record i has key
// key-<i mod keys> and seq i), per writes of batch records.
func writeKeyed(t *testing.T, s api.Sink, n, keys, batch int) {
	t.Helper()
	recs := make([]api.Record, n)
	for i := range recs {
		k := "key-" + strconv.Itoa(i%keys)
		recs[i] = api.Record{Event: event(fmt.Sprintf("ev-%04d", i), fmt.Sprintf(`{"k":%q,"seq":%d}`, k, i)), Key: []byte(k)}
	}
	for lo := 0; lo < n; lo += batch {
		if err := write(t, s, recs[lo:min(n, lo+batch)]); err != nil {
			t.Fatal(err)
		}
	}
}

// checkKeyOrder checks what writeKeyed wrote, read back per queue. A send
// that timed out after the broker stored it is sent again
// (at-least-once), so a batch may appear twice. What must hold: each key
// lives in one queue, and the first copies of its records come in the
// order written, with none missing. With group, each message's RocketMQ 5
// message group (__SHARDINGKEY) must be its key.
func checkKeyOrder(t *testing.T, queues [][]*primitive.MessageExt, n, keys int, group bool) {
	t.Helper()
	queueOf := map[string]int{}
	last := map[string]int{}
	seen := map[string]bool{}
	dups := 0
	for q, msgs := range queues {
		for _, m := range msgs {
			var e api.Event
			if err := json.Unmarshal(m.Body, &e); err != nil {
				t.Fatal(err)
			}
			var d struct {
				K   string
				Seq int
			}
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			if g := m.GetProperty("__SHARDINGKEY"); group && g != d.K || !group && g != "" {
				t.Errorf("%s (key %s): message group %q", e.ID, d.K, g)
			}
			if prev, ok := queueOf[d.K]; ok && prev != q {
				t.Errorf("key %s in queues %d and %d", d.K, prev, q)
			}
			queueOf[d.K] = q
			if seen[e.ID] {
				dups++
				continue
			}
			seen[e.ID] = true
			if p, ok := last[d.K]; ok && d.Seq != p+keys {
				t.Errorf("key %s: seq %d follows %d", d.K, d.Seq, p)
			}
			last[d.K] = d.Seq
		}
	}
	if len(seen) != n {
		t.Errorf("read %d distinct records, want %d", len(seen), n)
	}
	if dups > 0 {
		t.Logf("%d repeated messages (sends retried after a timeout)", dups)
	}
	used := map[int]bool{}
	for _, q := range queueOf {
		used[q] = true
	}
	if len(queueOf) != keys || len(used) < 3 {
		t.Errorf("%d keys over %d queues; want %d keys over several queues", len(queueOf), len(used), keys)
	}
}

// TestRecordErrors checks that records that can never be sent are
// rejected alone, by index, and the rest are written.
func TestRecordErrors(t *testing.T) {
	t.Parallel()
	namesrv, broker := testbed.RocketMQ(t), testbed.RocketMQBroker(t)
	topic := rocketmqtest.Topic(t, "ferry-sink-bad", 2)
	s := open(t, map[string]string{"nameservers": namesrv, "topic.form": "JSONPATH", "topic.value": "$.data.t",
		"max.message.bytes": "4096"})
	recs := []api.Record{
		{Event: event("ok-0", fmt.Sprintf(`{"t":%q}`, topic))},
		{Event: event("no-topic", `{"x":1}`)},
		{Event: event("bad-topic", `{"t":"has space"}`)},
		{Event: event("ok-3", fmt.Sprintf(`{"t":%q}`, topic))},
		{Event: event("too-large", fmt.Sprintf(`{"t":%q,"pad":%q}`, topic, strings.Repeat("x", 5000)))},
		{Event: event("ok-5", fmt.Sprintf(`{"t":%q}`, topic))},
	}
	err := write(t, s, recs)
	var re *api.RecordErrors
	if !errors.As(err, &re) {
		t.Fatalf("Write = %v, want *api.RecordErrors", err)
	}
	var idx []int
	for _, e := range *re {
		idx = append(idx, e.Index)
		if !api.IsFatal(e.Err) {
			t.Errorf("record %d: %v is not fatal", e.Index, e.Err)
		}
	}
	if !slices.Equal(idx, []int{1, 2, 4}) {
		t.Errorf("rejected %v (%v), want [1 2 4]", idx, err)
	}
	var ids []string
	for _, e := range structured(t, rocketmqtest.ReadQueues(t, broker, topic, 2, 3)) {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"ok-0", "ok-3", "ok-5"}) {
		t.Errorf("topic holds %v, want ok-0 ok-3 ok-5", ids)
	}
}

// TestUnreachable points the sink at addresses where no RocketMQ runs:
// a closed port fails Open, a port that accepts and hangs up fails
// Write; both with retryable errors.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	hangup, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hangup.Close()
	go func() {
		for {
			c, err := hangup.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	cfg := func(addr string) api.Config {
		c, err := rocketmq.Sink.Spec.Parse(map[string]string{"nameservers": addr, "topic": "ferry-sink-nowhere", "send.timeout": "500ms", "retries": "0"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	s, err := rocketmq.Sink.New(api.TaskConfig{Connector: "down", Config: cfg(closed)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx); err == nil || !api.IsRetryable(err) {
		t.Errorf("Open against a closed port = %v, want a retryable error", err)
	} else {
		t.Logf("Open: %v", err)
	}

	s, err = rocketmq.Sink.New(api.TaskConfig{Connector: "down", Config: cfg(hangup.Addr().String())})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close(context.Background())
	err = s.Write(ctx, []api.Record{{Event: event("x", `{}`)}})
	var re *api.RecordErrors
	if err == nil || !api.IsRetryable(err) || errors.As(err, &re) {
		t.Errorf("Write without a broker = %v, want a retryable error", err)
	} else {
		t.Logf("Write: %v", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cfg   map[string]string
		field string // "" when valid
	}{
		{"constant topic", map[string]string{"nameservers": "127.0.0.1:9876", "topic": "t"}, ""},
		{"topic from event", map[string]string{"nameservers": "127.0.0.1:9876", "topic.form": "JSONPATH", "topic.value": "$.data.table"}, ""},
		{"no topic", map[string]string{"nameservers": "127.0.0.1:9876"}, "topic"},
		{"topic and topic.form", map[string]string{"nameservers": "127.0.0.1:9876", "topic": "t", "topic.form": "JSONPATH", "topic.value": "$.x"}, "topic.form"},
		{"tag.value without form", map[string]string{"nameservers": "127.0.0.1:9876", "topic": "t", "tag.value": "$.x"}, "tag.value"},
		{"access key alone", map[string]string{"nameservers": "127.0.0.1:9876", "topic": "t", "access.key": "ak"}, "secret.key"},
		{"bad address", map[string]string{"nameservers": "localhost", "topic": "t"}, "nameservers"},
		{"bad body", map[string]string{"nameservers": "127.0.0.1:9876", "topic": "t", "body": "json"}, "body"},
		{"FIFO", map[string]string{"nameservers": "127.0.0.1:9876", "topic": "t", "message.type": "FIFO"}, ""},
		{"unknown message type", map[string]string{"nameservers": "127.0.0.1:9876", "topic": "t", "message.type": "fifo"}, "message.type"},
		{"FIFO unordered", map[string]string{"nameservers": "127.0.0.1:9876", "topic": "t", "message.type": "FIFO", "ordered": "false"}, "message.type"},
		{"invalid constant topic", map[string]string{"nameservers": "127.0.0.1:9876", "topic": "a.b"}, "topic"},
		{"invalid CONSTANT form topic", map[string]string{"nameservers": "127.0.0.1:9876", "topic.form": "CONSTANT", "topic.value": "TBW102"}, "topic.value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := rocketmq.Sink.Spec.Parse(c.cfg)
			if err == nil {
				err = rocketmq.Sink.Validate(cfg)
			}
			if c.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ve *api.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v, want a validation error on %s", err, c.field)
			}
			if !slices.ContainsFunc(ve.Fields, func(f api.FieldError) bool { return f.Field == c.field }) {
				t.Errorf("error %v does not name %s", err, c.field)
			}
		})
	}
}

func TestRedactsSecrets(t *testing.T) {
	t.Parallel()
	out := rocketmq.Sink.Spec.Redact(map[string]string{"access.key": "ak", "secret.key": "sk", "topic": "t"})
	if out["secret.key"] != api.Redacted || out["access.key"] != api.Redacted || out["topic"] != "t" {
		t.Errorf("redacted: %v", out)
	}
}
