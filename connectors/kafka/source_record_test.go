package kafka

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/protocol"

	"github.com/ferryhq/ferry/api"
)

// rewound is a record key or value the benchmark reads again each op
// (kafka-go's own bytes reader is spent after one read).
type rewound struct{ bytes.Reader }

func (*rewound) Close() error { return nil }

// BenchmarkRecord is the per-record decode of the source (Kafka record
// → api.Record) without the broker, for the three kinds of record: a
// structured-mode 1 KB CloudEvent (the generator's, as kafka → drop reads
// it), a plain 1 KB JSON value with a 16-byte key, and a binary-mode
// event with its attributes in ce_ headers.
func BenchmarkRecord(b *testing.B) {
	structured := `{"specversion":"1.0","id":"gen-0-123456","source":"ferry://generator/orders","type":"com.example.order.created",` +
		`"subject":"orders/123456","time":"2024-05-01T12:34:56.789Z","datacontenttype":"application/json",` +
		`"data":{"seq":123456,"task":0,"payload":"` + strings.Repeat("abcdefghij", 90) + `"}}`
	plain := `{"n":123456,"pad":"` + strings.Repeat("x", 1024-22) + `"}`
	hdr := func(kv ...string) []protocol.Header {
		var h []protocol.Header
		for i := 0; i < len(kv); i += 2 {
			h = append(h, protocol.Header{Key: kv[i], Value: []byte(kv[i+1])})
		}
		return h
	}
	for _, tc := range []struct {
		name       string
		key, value string
		headers    []protocol.Header
	}{
		{"structured", "", structured, hdr("content-type", "application/cloudevents+json")},
		{"plain", "key-000000123456", plain, nil},
		{"binary", "key-000000123456", plain, hdr("ce_specversion", "1.0", "ce_id", "gen-0-123456", "ce_source", "ferry://generator/orders",
			"ce_type", "com.example.order.created", "ce_time", "2024-05-01T12:34:56.789Z", "content-type", "application/json")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := &source{evSource: "/ferry/kafka/bench"}
			p := &part{tp: tp{topic: "orders", id: 3}, name: "orders-3", idPrefix: "orders-3-", topicValue: "orders"}
			var key, value rewound
			keyBytes, valueBytes := []byte(tc.key), []byte(tc.value)
			r := &protocol.Record{Offset: 123456, Time: time.Now(), Headers: tc.headers}
			b.SetBytes(int64(len(tc.value)))
			b.ReportAllocs()
			for b.Loop() {
				r.Key, r.Value = nil, &value
				value.Reset(valueBytes)
				if tc.key != "" {
					key.Reset(keyBytes)
					r.Key = &key
				}
				if _, err := s.record(p, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRecordReusesNothingItKeeps: the source reads structured values into
// one buffer it reuses, so a record must keep nothing of it — neither a
// decoded event nor one that failed to decode (kept as plain data).
func TestRecordReusesNothingItKeeps(t *testing.T) {
	t.Parallel()
	s := &source{evSource: "/ferry/kafka/test"}
	p := &part{tp: tp{topic: "orders", id: 0}, name: "orders-0", idPrefix: "orders-0-", topicValue: "orders"}
	ct := []protocol.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}
	read := func(offset int64, value string) api.Record {
		t.Helper()
		var v rewound
		v.Reset([]byte(value))
		rec, err := s.record(p, &protocol.Record{Offset: offset, Time: time.Now(), Value: &v, Headers: ct})
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	// The first value sizes the buffer, so the later ones share it.
	read(0, strings.Repeat(" ", 200)+`{"specversion":"1.0","id":"z","source":"/s","type":"t"}`)
	good := read(1, `{"specversion":"1.0","id":"a","source":"/s","type":"t","data":{"n":1}}`)
	bad := read(2, `{"specversion":"1.0","id":"b"`)
	read(3, strings.Repeat("x", 150))
	if string(good.Event.Data) != `{"n":1}` || good.Event.ID != "a" {
		t.Fatalf("event changed by later reads: id %q data %s", good.Event.ID, good.Event.Data)
	}
	if string(bad.Event.Data) != `{"specversion":"1.0","id":"b"` || bad.Event.Extensions[ExtDecodeError] == nil {
		t.Fatalf("undecodable record changed by later reads: %s", bad.Event.Data)
	}
	if string(good.Position) != "2" || string(bad.Position) != "3" {
		t.Fatalf("positions %q %q, want 2 3", good.Position, bad.Position)
	}
}

// TestRecordAllocs holds the structured-mode decode (kafka → drop's
// record) to its allocations: the decoder's two, the id, the extensions
// map and the boxed offset and timestamp.
func TestRecordAllocs(t *testing.T) {
	s := &source{evSource: "/ferry/kafka/test"}
	p := &part{tp: tp{topic: "orders", id: 0}, name: "orders-0", idPrefix: "orders-0-", topicValue: "orders"}
	value := []byte(`{"specversion":"1.0","id":"gen-0-1","source":"/g","type":"t","time":"2024-05-01T12:34:56.789Z",` +
		`"datacontenttype":"application/json","data":{"payload":"` + strings.Repeat("x", 900) + `"}}`)
	var v rewound
	r := &protocol.Record{Offset: 7, Time: time.Now(), Value: &v,
		Headers: []protocol.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}}
	if n := testing.AllocsPerRun(200, func() {
		v.Reset(value)
		if _, err := s.record(p, r); err != nil {
			t.Fatal(err)
		}
	}); n > 6 {
		t.Fatalf("%v allocations per structured record, want at most 6", n)
	}
}
