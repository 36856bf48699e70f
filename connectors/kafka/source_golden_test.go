package kafka_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/ferryhq/ferry/api"
)

var updateSource = flag.Bool("update-source", false, "rewrite the source's golden files in testdata")

// TestSourceEventsGolden: each kind of Kafka record comes out as the
// CloudEvent a user expects (testdata/source-events.golden; -update-source
// rewrites it). The topic's name is replaced by TOPIC.
func TestSourceEventsGolden(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	topic := b.topic(t, "golden", 1)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	h := func(kv ...string) []kafkago.Header {
		var out []kafkago.Header
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, kafkago.Header{Key: kv[i], Value: []byte(kv[i+1])})
		}
		return out
	}
	cases := []struct {
		name string
		msg  msg
	}{
		{"structured mode", msg{key: []byte("o1"), time: at,
			headers: h("content-type", "application/cloudevents+json; charset=UTF-8", "tenant", "acme"),
			value: []byte(`{"specversion":"1.0","id":"order-1","source":"/shop","type":"order.created","subject":"o1",` +
				`"time":"2026-01-02T03:04:05Z","datacontenttype":"application/json","traceparent":"00-abc-01","data":{"total":12}}`)}},
		{"binary mode", msg{key: []byte("o1"), time: at,
			headers: h("ce_specversion", "1.0", "ce_id", "pay-7", "ce_source", "/billing", "ce_type", "order.paid",
				"ce_time", "2026-01-02T03:04:06Z", "ce_subject", "o1", "ce_region", "eu", "content-type", "application/json",
				"X-Trace", "dropped: not a CloudEvents name", "priority", "high"),
			value: []byte(`{"paid":true}`)}},
		{"plain JSON", msg{key: []byte("k3"), time: at, headers: h("source", "reserved name, dropped", "region", "us"),
			value: []byte(`{"a":1,"b":[true,null]}`)}},
		{"plain bytes", msg{time: at, value: []byte{0, 1, 0xff, 'x'}}},
		{"tombstone", msg{key: []byte("o1"), time: at}},
		{"structured mode that is not JSON", msg{time: at,
			headers: h("content-type", "application/cloudevents+json"), value: []byte("{not json")}},
	}
	for _, c := range cases {
		b.produce(t, topic, 0, c.msg)
	}
	src := openSource(t, b.config("topics", topic), 0, 1, nil)
	recs := readN(t, src, len(cases), 20*time.Second)
	var out bytes.Buffer
	for i, r := range recs {
		out.WriteString("# " + cases[i].name + "\n")
		out.Write(canonical(t, r))
		out.WriteString("\n")
	}
	got := strings.ReplaceAll(out.String(), topic, "TOPIC")
	path := filepath.Join("testdata", "source-events.golden")
	if *updateSource {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-source to create it)", err)
	}
	if got != string(want) {
		t.Errorf("events differ from %s (-update-source rewrites it):\n%s", path, got)
	}
}

// canonical is a record as indented JSON with sorted keys: the event in
// structured mode, and the routing fields beside it.
func canonical(t *testing.T, r api.Record) []byte {
	t.Helper()
	ev, err := r.Event.AppendJSON(nil)
	if err != nil {
		t.Fatalf("encode %s: %v", r.Event.ID, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(ev, &doc); err != nil {
		t.Fatal(err)
	}
	var key any
	if r.Key != nil {
		key = string(r.Key)
	}
	b, err := json.MarshalIndent(map[string]any{
		"event": doc, "key": key, "partition": r.Partition, "position": string(r.Position),
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
