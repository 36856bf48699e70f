package kafka_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/kafka"
	"github.com/ferryhq/ferry/internal/testbed"
)

// The flag has its own name so that it cannot clash with another test
// file of this package registering -update.
var updateSink = flag.Bool("update-sink", false, "rewrite the sink's golden files in testdata")

func TestSinkSpecDoc(t *testing.T) {
	t.Parallel()
	apitest.CheckSpecDoc(t, "sink.go", kafka.Sink.Spec)
}

// TestSinkConformance runs the conformance kit against the test bed's
// Kafka: lifecycle, restart, everything written read back, and each
// key's records in order (the sink writes partitions in parallel, keys
// by hash), read back partition by partition in offset order.
func TestSinkConformance(t *testing.T) {
	brokers := testbed.Kafka(t)
	topic := newTopic(t, brokers, "ferry-sink-conf", 3, nil)
	records := func(t testing.TB) []api.Record {
		var out []api.Record
		for _, m := range readTopic(t, brokers, topic) {
			var e api.Event
			if err := json.Unmarshal(m.value, &e); err != nil {
				t.Fatalf("record %d/%d is not a structured CloudEvent: %v: %s", m.partition, m.offset, err, m.value)
			}
			out = append(out, api.Record{Event: e, Key: m.key})
		}
		return out
	}
	apitest.RunSink(t, apitest.SinkCase{
		Plugin: kafka.Sink,
		Config: map[string]string{"brokers": brokerList(brokers), "topic": topic, "batch.size": "7"},
		ReadBack: func(t testing.TB) []api.Event {
			var out []api.Event
			for _, r := range records(t) {
				out = append(out, r.Event)
			}
			return out
		},
		KeyedOrder: records,
	})
}

// TestSinkBodies writes one event with each body and compares what lands
// in Kafka (key, headers, value) with testdata/sink-<body>.golden.
func TestSinkBodies(t *testing.T) {
	t.Parallel()
	brokers := testbed.Kafka(t)
	ev := api.Event{ID: "order-1", Source: "/shop", SpecVersion: "1.0", Type: "order.created", Subject: "orders/1",
		Time: time.Date(2024, 5, 1, 12, 34, 56, 789e6, time.UTC), DataContentType: "application/json",
		Data: []byte(`{"total":12.5,"items":["a"],"tenant":"acme"}`), Extensions: map[string]any{"tenant": "acme", "priority": int64(3)}}
	for _, body := range []string{"structured", "binary", "data"} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			topic := newTopic(t, brokers, "ferry-sink-body", 1, nil)
			s := open(t, map[string]string{"brokers": brokerList(brokers), "topic": topic, "body": body,
				"headers.x-tenant.form": "JSONPATH", "headers.x-tenant.value": "$.data.tenant", "headers.x-origin": "ferry"})
			if err := write(t, s, []api.Record{{Event: ev, Key: []byte(`{"id":1}`)}}); err != nil {
				t.Fatal(err)
			}
			msgs := readTopic(t, brokers, topic)
			if len(msgs) != 1 {
				t.Fatalf("%d records, want 1", len(msgs))
			}
			m := msgs[0]
			if !m.time.Equal(ev.Time) {
				t.Errorf("timestamp %v, want the event's time %v", m.time, ev.Time)
			}
			var got bytes.Buffer
			fmt.Fprintf(&got, "key: %s\n", m.key)
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range m.headers {
					if !yield(k) {
						return
					}
				}
			}) {
				fmt.Fprintf(&got, "header %s: %s\n", k, m.headers[k])
			}
			value := m.value
			if body == "structured" {
				// Extensions are a map: compare the JSON by value.
				var v map[string]any
				if err := json.Unmarshal(value, &v); err != nil {
					t.Fatal(err)
				}
				value, _ = json.MarshalIndent(v, "", "  ")
			}
			fmt.Fprintf(&got, "value: %s\n", value)
			path := filepath.Join("testdata", "sink-"+body+".golden")
			if *updateSink {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update-sink to create it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("%s differs:\ngot\n%s\nwant\n%s", path, got.String(), want)
			}
		})
	}
}

// TestSinkKeyOrder writes many keyed records over several partitions with
// parallel sends, in engine-sized batches: every key lands in one
// partition, the one Kafka's Java producer would choose, in order.
func TestSinkKeyOrder(t *testing.T) {
	t.Parallel()
	brokers := testbed.Kafka(t)
	const partitions, keys, n, batch = 6, 300, 20000, 1024
	topic := newTopic(t, brokers, "ferry-sink-order", partitions, nil)
	s := open(t, map[string]string{"brokers": brokerList(brokers), "topic": topic, "body": "data",
		"send.parallelism": "6", "batch.size": "100"})
	recs := make([]api.Record, n)
	for i := range recs {
		k := "key-" + strconv.Itoa(i%keys)
		recs[i] = api.Record{Event: event("o-"+strconv.Itoa(i), fmt.Sprintf(`{"k":%q,"seq":%d}`, k, i)), Key: []byte(k)}
	}
	for i := 0; i < n; i += batch {
		if err := write(t, s, recs[i:min(n, i+batch)]); err != nil {
			t.Fatal(err)
		}
	}
	msgs := readTopic(t, brokers, topic)
	if len(msgs) != n {
		t.Fatalf("%d records, want %d", len(msgs), n)
	}
	partOf := map[string]int{}
	last := map[string]int{}
	used := map[int]bool{}
	for _, m := range msgs {
		var d struct {
			K   string
			Seq int
		}
		if err := json.Unmarshal(m.value, &d); err != nil {
			t.Fatal(err)
		}
		if string(m.key) != d.K {
			t.Fatalf("record key %q, data key %q", m.key, d.K)
		}
		used[m.partition] = true
		if p, ok := partOf[d.K]; ok && p != m.partition {
			t.Fatalf("key %s in partitions %d and %d", d.K, p, m.partition)
		}
		partOf[d.K] = m.partition
		if want := kafka.JavaPartition([]byte(d.K), partitions); m.partition != want {
			t.Fatalf("key %s in partition %d; Kafka's default partitioner puts it in %d", d.K, m.partition, want)
		}
		if l, ok := last[d.K]; ok && l >= d.Seq {
			t.Fatalf("key %s: seq %d after %d", d.K, d.Seq, l)
		}
		last[d.K] = d.Seq
	}
	if len(used) != partitions {
		t.Errorf("records in %d partitions, want %d", len(used), partitions)
	}
}

// TestSinkTombstones: a delete (op=d) with a key is followed by a
// tombstone, by default; not with tombstones.on.delete=false, not for
// other operations. The compacted topic refuses the keyless delete: that
// record alone is rejected, with the broker's reason.
func TestSinkTombstones(t *testing.T) {
	t.Parallel()
	brokers := testbed.Kafka(t)
	cdc := func(id, op string, key string) api.Record {
		r := api.Record{Event: event(id, fmt.Sprintf(`{"before":{"id":1},"after":null,"source":{"table":"t"},"op":%q,"ts_ms":1}`, op))}
		if key != "" {
			r.Key = []byte(key)
		}
		return r
	}
	recs := []api.Record{cdc("c1", "c", `{"id":1}`), cdc("d1", "d", `{"id":1}`), cdc("u2", "u", `{"id":2}`),
		cdc("d3", "d", ""), cdc("d4", "d", `{"id":4}`)}
	for _, tc := range []struct {
		name string
		cfg  map[string]string
		want []string // "<key>=<id>" per record, "<key>=null" for a tombstone
	}{
		{"default", nil, []string{`{"id":1}=c1`, `{"id":1}=d1`, `{"id":1}=null`, `{"id":2}=u2`, `{"id":4}=d4`, `{"id":4}=null`}},
		{"off", map[string]string{"tombstones.on.delete": "false"}, []string{`{"id":1}=c1`, `{"id":1}=d1`, `{"id":2}=u2`, `{"id":4}=d4`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			topic := newTopic(t, brokers, "ferry-sink-tomb", 1, map[string]string{"cleanup.policy": "compact"})
			cfg := map[string]string{"brokers": brokerList(brokers), "topic": topic, "body": "binary"}
			for k, v := range tc.cfg {
				cfg[k] = v
			}
			s := open(t, cfg)
			err := write(t, s, recs)
			var re *api.RecordErrors
			if !errors.As(err, &re) || len(*re) != 1 || (*re)[0].Index != 3 || !strings.Contains((*re)[0].Err.Error(), "without key") {
				t.Fatalf("Write = %v, want the keyless record 3 rejected by the compacted topic", err)
			}
			var got []string
			for _, m := range readTopic(t, brokers, topic) {
				if m.value == nil {
					if len(m.headers) != 0 {
						t.Errorf("tombstone with headers %v", m.headers)
					}
					got = append(got, string(m.key)+"=null")
					continue
				}
				got = append(got, string(m.key)+"="+m.headers["ce_id"])
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("topic holds\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

// TestSinkRecordErrors: records the sink or the broker refuses for
// themselves are rejected alone, fatal, with the reason; the others are
// written.
func TestSinkRecordErrors(t *testing.T) {
	t.Parallel()
	brokers := testbed.Kafka(t)
	topic := newTopic(t, brokers, "ferry-sink-bad", 2, map[string]string{"max.message.bytes": "4096"})
	s := open(t, map[string]string{"brokers": brokerList(brokers), "topic.form": "JSONPATH", "topic.value": "$.data.t",
		"partitioner": "manual", "partition.form": "JSONPATH", "partition.value": "$.data.p", "max.message.bytes": "65536",
		"topic.auto.create": "false"})
	big := strings.Repeat("x", 5000)
	recs := []api.Record{
		{Event: event("ok-0", fmt.Sprintf(`{"t":%q,"p":0}`, topic))},
		{Event: event("no-topic", `{"p":0}`)},
		{Event: event("bad-topic", `{"t":"has space","p":0}`)},
		{Event: event("ok-3", fmt.Sprintf(`{"t":%q,"p":1}`, topic))},
		{Event: event("broker-too-large", fmt.Sprintf(`{"t":%q,"p":1,"pad":%q}`, topic, big))},
		{Event: event("ok-5", fmt.Sprintf(`{"t":%q,"p":1}`, topic))},
		{Event: event("sink-too-large", fmt.Sprintf(`{"t":%q,"p":0,"pad":%q}`, topic, strings.Repeat(big, 14)))},
		{Event: event("no-partition", fmt.Sprintf(`{"t":%q,"p":2}`, topic))},
		{Event: event("missing-topic", `{"t":"ferry-sink-no-such-topic","p":0}`)},
		{Event: event("ok-9", fmt.Sprintf(`{"t":%q,"p":0}`, topic))},
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
		t.Logf("record %d: %v", e.Index, e.Err)
	}
	if !slices.Equal(idx, []int{1, 2, 4, 6, 7, 8}) {
		t.Fatalf("rejected %v, want [1 2 4 6 7 8]", idx)
	}
	for i, want := range map[int]string{4: "message size too large", 6: "max.message.bytes", 7: "invalid partition", 8: "does not exist"} {
		e := (*re)[slices.Index(idx, i)].Err
		if !strings.Contains(strings.ToLower(e.Error()), want) {
			t.Errorf("record %d: %v does not say %q", i, e, want)
		}
	}
	var got []string
	for _, m := range readTopic(t, brokers, topic) {
		var e api.Event
		if err := json.Unmarshal(m.value, &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%s", m.partition, e.ID))
	}
	if !slices.Equal(got, []string{"0:ok-0", "0:ok-9", "1:ok-3", "1:ok-5"}) {
		t.Errorf("topic holds %v", got)
	}
}

// TestSinkMissingTopic: with topic.auto.create=false a constant topic
// that does not exist fails Open with a fatal error naming it.
func TestSinkMissingTopic(t *testing.T) {
	t.Parallel()
	brokers := testbed.Kafka(t)
	s, err := build(map[string]string{"brokers": brokerList(brokers), "topic": "ferry-sink-missing-topic", "topic.auto.create": "false"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	err = s.Open(t.Context())
	if err == nil || !api.IsFatal(err) || !strings.Contains(err.Error(), "ferry-sink-missing-topic") || !strings.Contains(err.Error(), "create it") {
		t.Fatalf("Open = %v, want a fatal error naming the topic and what to do", err)
	}
	t.Log(err)
}

func TestSinkValidate(t *testing.T) {
	t.Parallel()
	base := map[string]string{"brokers": "127.0.0.1:9092", "topic": "t"}
	long := strings.Repeat("h", 300)
	manyHeaders := with(base)
	for i := range 65 {
		manyHeaders["headers.h"+strconv.Itoa(i)] = "v"
	}
	cases := []struct {
		name  string
		cfg   map[string]string
		field string // "" when valid
	}{
		{"minimal", base, ""},
		{"everything", with(base, "acks", "1", "compression", "zstd", "partitioner", "round-robin", "batch.size", "10",
			"batch.bytes", "4096", "max.message.bytes", "2048", "tombstones.on.delete", "false", "body", "binary",
			"key.form", "JSONPATH", "key.value", "$.data.id", "headers.trace", "x"), ""},
		{"manual", with(base, "partitioner", "manual", "partition.form", "JSONPATH", "partition.value", "$.data.p"), ""},
		{"no brokers", map[string]string{"topic": "t"}, "brokers"},
		{"no topic", map[string]string{"brokers": "127.0.0.1:9092"}, "topic"},
		{"topic and topic.form", with(base, "topic.form", "JSONPATH", "topic.value", "$.x"), "topic.form"},
		{"invalid topic", with(base, "topic", "a b"), "topic"},
		{"topic too long", with(base, "topic", strings.Repeat("t", 250)), "topic"},
		{"topic dot", with(base, "topic", ".."), "topic"},
		{"acks", with(base, "acks", "-1"), "acks"},
		{"compression", with(base, "compression", "brotli"), "compression"},
		{"partitioner", with(base, "partitioner", "sticky"), "partitioner"},
		{"manual without partition", with(base, "partitioner", "manual"), "partition"},
		{"partition without manual", with(base, "partition", "3"), "partition"},
		{"partition.form without manual", with(base, "partition.form", "JSONPATH", "partition.value", "$.p"), "partition.form"},
		{"negative partition", with(base, "partitioner", "manual", "partition", "-1"), "partition"},
		{"batch.size zero", with(base, "batch.size", "0"), "batch.size"},
		{"batch.size huge", with(base, "batch.size", "100000000"), "batch.size"},
		{"batch.bytes small", with(base, "batch.bytes", "10"), "batch.bytes"},
		{"batch.bytes huge", with(base, "batch.bytes", "9999999999"), "batch.bytes"},
		{"max.message.bytes huge", with(base, "max.message.bytes", "1099511627776"), "max.message.bytes"},
		{"max.message.bytes tiny", with(base, "max.message.bytes", "1"), "max.message.bytes"},
		{"linger", with(base, "linger.ms", "5"), "linger.ms"},
		{"request.timeout", with(base, "request.timeout", "24h"), "request.timeout"},
		{"parallelism", with(base, "send.parallelism", "100000"), "send.parallelism"},
		{"body", with(base, "body", "json"), "body"},
		{"header name", with(base, "headers.a b", "x"), "headers.a b"},
		{"header name long", with(base, "headers."+long, "x"), "headers." + long},
		{"header value without form", with(base, "headers.h.value", "$.x"), "headers.h.value"},
		{"header both", with(base, "headers.h", "x", "headers.h.form", "JSONPATH", "headers.h.value", "$.x"), "headers.h.form"},
		{"header ce_", with(base, "headers.ce_id", "x"), "headers.ce_id"},
		{"header content-type", with(base, "headers.content-type", "text/plain"), "headers.content-type"},
		{"header content-type, data", with(base, "headers.content-type", "text/plain", "body", "data"), ""},
		{"too many headers", manyHeaders, "headers.h9"},
		{"sasl without user", with(base, "sasl.mechanism", "PLAIN"), "sasl.username"},
		{"bad template", with(base, "key.form", "TEMPLATE", "key.value", `{"a":"$.data.a"}`, "key.template", "${a"), "key.template"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := build(c.cfg)
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

func TestSinkRedactsSecrets(t *testing.T) {
	t.Parallel()
	out := kafka.Sink.Spec.Redact(map[string]string{"sasl.password": "pw", "sasl.username": "u", "topic": "t"})
	if out["sasl.password"] != api.Redacted || out["sasl.username"] != "u" {
		t.Errorf("redacted: %v", out)
	}
}

// TestSinkCompressionAndAcks writes through every codec and acks setting
// and reads the records back (acks=0 confirms nothing: read until they
// arrive).
func TestSinkCompressionAndAcks(t *testing.T) {
	t.Parallel()
	brokers := testbed.Kafka(t)
	for _, tc := range [][2]string{{"gzip", "all"}, {"snappy", "all"}, {"lz4", "1"}, {"zstd", "all"}, {"none", "0"}} {
		t.Run(tc[0]+"-acks-"+tc[1], func(t *testing.T) {
			t.Parallel()
			topic := newTopic(t, brokers, "ferry-sink-codec", 2, nil)
			s := open(t, map[string]string{"brokers": brokerList(brokers), "topic": topic, "compression": tc[0], "acks": tc[1],
				"partitioner": "round-robin"})
			recs := apitest.Records(tc[0], 50)
			if err := write(t, s, recs); err != nil {
				t.Fatal(err)
			}
			var got []record
			for deadline := time.Now().Add(10 * time.Second); len(got) < len(recs) && time.Now().Before(deadline); {
				got = readTopic(t, brokers, topic)
			}
			if len(got) != len(recs) {
				t.Fatalf("%d records read back, want %d", len(got), len(recs))
			}
			parts := map[int]int{}
			for _, m := range got {
				parts[m.partition]++
			}
			if parts[0] != 25 || parts[1] != 25 {
				t.Errorf("round-robin spread %v, want 25 and 25", parts)
			}
		})
	}
}
