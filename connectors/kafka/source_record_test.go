package kafka

import (
	"bytes"
	"fmt"
	"io"
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
			s := &decoder{evSource: "/ferry/kafka/bench"}
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
	s := &decoder{evSource: "/ferry/kafka/test"}
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
// record) to its allocations: the decoder's two, the extensions map (and
// its slots) and the boxed offset; the timestamp is boxed once for the
// records that share it.
func TestRecordAllocs(t *testing.T) {
	s := &decoder{evSource: "/ferry/kafka/test"}
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
	}); n > 5 {
		t.Fatalf("%v allocations per structured record, want at most 5", n)
	}
}

// TestRecordTimestamps: records that share a timestamp share its boxed
// value, and each record still carries its own time.
func TestRecordTimestamps(t *testing.T) {
	t.Parallel()
	d := &decoder{evSource: "/ferry/kafka/test"}
	p := &part{tp: tp{topic: "orders", id: 0}, name: "orders-0", idPrefix: "orders-0-", topicValue: "orders"}
	t1, t2 := time.UnixMilli(1700000000000), time.UnixMilli(1700000000001)
	for i, ts := range []time.Time{t1, t1, t2, t1, {}} {
		rec, err := d.record(p, &protocol.Record{Offset: int64(i), Time: ts, Value: protocol.NewBytes([]byte(`{"n":1}`))})
		if err != nil {
			t.Fatal(err)
		}
		got, ok := rec.Event.Extensions[ExtTimestamp].(time.Time)
		if ts.IsZero() {
			if ok {
				t.Fatalf("record %d: timestamp %v, want none", i, got)
			}
			continue
		}
		if !ok || !got.Equal(ts) || got.Location() != time.UTC || !rec.Event.Time.Equal(ts) {
			t.Fatalf("record %d: timestamp %v (event time %v), want %v in UTC", i, got, rec.Event.Time, ts)
		}
	}
}

// chunked is a record value that hands itself out in pieces of size
// bytes through io.WriterTo, as kafka-go does for a value that spans its
// buffer's pages.
type chunked struct {
	b    []byte
	size int
}

func (c *chunked) Read(p []byte) (int, error) { panic("read through WriterTo") }
func (c *chunked) Close() error               { return nil }
func (c *chunked) Len() int                   { return len(c.b) }
func (c *chunked) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for len(c.b) > 0 {
		k := min(c.size, len(c.b))
		m, err := w.Write(c.b[:k])
		n += int64(m)
		c.b = c.b[k:]
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestRecordBorrowsValueInPieces: a structured value handed out in one
// piece or in several decodes the same, and the event keeps nothing of
// the buffer it was read from (kafka-go reuses it once the record is
// closed).
func TestRecordBorrowsValueInPieces(t *testing.T) {
	t.Parallel()
	value := `{"specversion":"1.0","id":"a","source":"/s","type":"t","data":{"pad":"` + strings.Repeat("y", 300) + `"}}`
	ct := []protocol.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}
	p := &part{tp: tp{topic: "orders", id: 0}, name: "orders-0", idPrefix: "orders-0-", topicValue: "orders"}
	d := &decoder{evSource: "/ferry/kafka/test"}
	for _, size := range []int{len(value), 100, 7, 1} {
		buf := []byte(value)
		rec, err := d.record(p, &protocol.Record{Offset: 1, Value: &chunked{b: buf, size: size}, Headers: ct})
		if err != nil {
			t.Fatalf("pieces of %d: %v", size, err)
		}
		clear(buf)
		if want := `{"pad":"` + strings.Repeat("y", 300) + `"}`; string(rec.Event.Data) != want || rec.Event.ID != "a" {
			t.Fatalf("pieces of %d: id %q data %.40s…", size, rec.Event.ID, rec.Event.Data)
		}
	}
}

// TestDecodeRecordsAcrossPages decodes a record set through kafka-go's own
// decoding (values in its 64 KiB pages, some across two), then decodes
// another so that kafka-go reuses the first one's pages: every event of
// the first still holds its own data.
func TestDecodeRecordsAcrossPages(t *testing.T) {
	t.Parallel()
	const n = 200 // 1.5 KB each: a few values cross a page boundary
	event := func(set, i int) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":"e-%d-%d","source":"/s","type":"t","data":{"n":%d,"pad":"%s"}}`,
			set, i, i, strings.Repeat(string(rune('a'+set)), 1400))
	}
	recordSet := func(set int) protocol.RecordReader {
		recs := make([]protocol.Record, n)
		for i := range recs {
			recs[i] = protocol.Record{Offset: int64(i), Value: protocol.NewBytes([]byte(event(set, i))),
				Headers: []protocol.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}}
		}
		var buf bytes.Buffer
		if _, err := (&protocol.RecordSet{Version: 2, Records: protocol.NewRecordReader(recs...)}).WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		var rs protocol.RecordSet
		if _, err := rs.ReadFrom(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatal(err)
		}
		return rs.Records
	}
	d := &decoder{evSource: "/ferry/kafka/test"}
	p := &part{tp: tp{topic: "orders", id: 0}, name: "orders-0", idPrefix: "orders-0-", topicValue: "orders"}
	first, _, err := d.decodeRecords(nil, p, 0, recordSet(0))
	if err != nil {
		t.Fatal(err)
	}
	if d.scratch == nil {
		t.Fatal("no value crossed a page: the test does not cover joined pieces")
	}
	if _, _, err := d.decodeRecords(nil, p, 0, recordSet(1)); err != nil {
		t.Fatal(err)
	}
	if len(first) != n {
		t.Fatalf("%d records, want %d", len(first), n)
	}
	for i, rec := range first {
		want := fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("a", 1400))
		if id := fmt.Sprintf("e-0-%d", i); rec.Event.ID != id || string(rec.Event.Data) != want {
			t.Fatalf("record %d: id %q, data %.30s…", i, rec.Event.ID, rec.Event.Data)
		}
	}
}
