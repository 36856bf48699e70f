package kit_test

import (
	"encoding/json"
	"errors"
	"flag"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// headers yields name/value pairs in the order given, as a message's
// headers arrive.
func headers(kv ...string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := 0; i+1 < len(kv); i += 2 {
			if !yield(kv[i], kv[i+1]) {
				return
			}
		}
	}
}

// canonical is ev's structured JSON with members sorted, so golden files
// do not depend on map order.
func canonical(t *testing.T, ev *api.Event) []byte {
	t.Helper()
	b, err := ev.AppendJSON(nil)
	if err != nil {
		t.Fatalf("event does not encode: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// TestDecodeGolden: a structured-mode event, a binary-mode event and a
// plain JSON payload, over each binding, each come out as the CloudEvent
// in testdata/<name>.golden.
func TestDecodeGolden(t *testing.T) {
	t.Parallel()
	structured := `{"specversion":"1.0","id":"order-1","source":"/shop","type":"order.created","subject":"orders/1",` +
		`"time":"2024-05-01T12:34:56.789Z","datacontenttype":"application/json","tenant":"acme","priority":3,"data":{"total":12.5,"items":["a"]}}`
	data := `{"total":12.5,"items":["a"]}`
	for _, tc := range []struct {
		name    string
		binding kit.Binding
		headers iter.Seq2[string, string]
		body    string
		mode    kit.Mode
	}{
		{"kafka-structured", kit.Kafka, headers("content-type", "application/cloudevents+json; charset=UTF-8"), structured, kit.ModeStructured},
		{"kafka-binary", kit.Kafka, headers("ce_specversion", "1.0", "ce_id", "order-1", "ce_source", "/shop", "ce_type", "order.created",
			"ce_subject", "orders/1", "ce_time", "2024-05-01T12:34:56.789Z", "content-type", "application/json", "ce_tenant", "acme",
			"ce_priority", "3", "trace", "not an attribute"), data, kit.ModeBinary},
		{"kafka-plain", kit.Kafka, headers("trace", "x"), data, kit.ModePlain},
		{"http-structured", kit.HTTP, headers("Content-Type", "Application/CloudEvents+JSON"), structured, kit.ModeStructured},
		{"http-binary", kit.HTTP, headers("Ce-Specversion", "1.0", "Ce-Id", "order-1", "Ce-Source", "%2Fshop", "Ce-Type", "order.created",
			"Ce-Subject", "orders/1", "Ce-Time", "2024-05-01T12:34:56.789Z", "Content-Type", "application/json", "Ce-Tenant", "acme",
			"Ce-Priority", "3"), data, kit.ModeBinary},
		{"http-plain", kit.HTTP, headers("Content-Type", "application/json"), data, kit.ModePlain},
		{"rocketmq-structured", kit.RocketMQ, headers("CE_contenttype", "application/cloudevents+json; charset=UTF-8", "KEYS", "k"), structured, kit.ModeStructured},
		{"rocketmq-binary", kit.RocketMQ, headers("CE_specversion", "1.0", "CE_id", "order-1", "CE_source", "/shop", "CE_type", "order.created",
			"CE_subject", "orders/1", "CE_time", "2024-05-01T12:34:56.789Z", "CE_contenttype", "application/json", "CE_tenant", "acme",
			"CE_priority", "3", "TAGS", "t"), data, kit.ModeBinary},
		{"rocketmq-plain", kit.RocketMQ, headers("TAGS", "t"), data, kit.ModePlain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, mode, err := tc.binding.Decode(tc.headers, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if mode != tc.mode {
				t.Fatalf("mode %v, want %v", mode, tc.mode)
			}
			if mode == kit.ModePlain {
				// The source names plain events after their position.
				ev.ID, ev.Source, ev.Type = "topic-0-42", "/topic", "ferry.plain.v1"
			}
			got := canonical(t, &ev)
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Fatalf("decoded event differs from %s:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

func TestDetectMode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ct   string
		spec bool
		want kit.Mode
	}{
		{"application/cloudevents+json", false, kit.ModeStructured},
		{"application/cloudevents+json", true, kit.ModeStructured},
		{"APPLICATION/CLOUDEVENTS+JSON; charset=utf-8", true, kit.ModeStructured}, // structured wins over headers
		{"application/cloudevents+avro", false, kit.ModeStructured},
		{"application/cloudevents-batch+json", false, kit.ModeBatch},
		{"application/json", true, kit.ModeBinary},
		{"", true, kit.ModeBinary},
		{"application/json", false, kit.ModePlain},
		{"application/cloud", false, kit.ModePlain},
		{"", false, kit.ModePlain},
	} {
		if got := kit.DetectMode(tc.ct, tc.spec); got != tc.want {
			t.Errorf("DetectMode(%q, %v) = %v, want %v", tc.ct, tc.spec, got, tc.want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		binding kit.Binding
		headers iter.Seq2[string, string]
		body    string
		want    error // nil: any error
	}{
		{"avro format", kit.Kafka, headers("content-type", "application/cloudevents+avro"), "x", kit.ErrUnsupportedFormat},
		{"structured not an event", kit.Kafka, headers("content-type", "application/cloudevents+json"), `{"a":1}`, api.ErrNoSpecVersion},
		{"binary without id", kit.Kafka, headers("ce_specversion", "1.0", "ce_source", "/s", "ce_type", "t"), "", kit.ErrBinary},
		{"binary wrong specversion", kit.RocketMQ, headers("CE_specversion", "0.3", "CE_id", "1", "CE_source", "/s", "CE_type", "t"), "", kit.ErrBinary},
		{"binary bad time", kit.Kafka, headers("ce_specversion", "1.0", "ce_id", "1", "ce_source", "/s", "ce_type", "t", "ce_time", "now"), "", kit.ErrBinary},
		{"binary bad name", kit.Kafka, headers("ce_specversion", "1.0", "ce_id", "1", "ce_source", "/s", "ce_type", "t", "ce_Tenant", "x"), "", kit.ErrBinary},
		{"binary bad percent", kit.HTTP, headers("ce-specversion", "1.0", "ce-id", "%zz", "ce-source", "/s", "ce-type", "t"), "", kit.ErrBinary},
		{"binary JSON type, not JSON", kit.Kafka, headers("ce_specversion", "1.0", "ce_id", "1", "ce_source", "/s", "ce_type", "t", "content-type", "application/json"), "{", kit.ErrBinary},
		{"plain JSON type, not JSON", kit.HTTP, headers("Content-Type", "text/json"), "{", kit.ErrPlainData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := tc.binding.Decode(tc.headers, []byte(tc.body))
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// TestPlainContentTypes: a plain message keeps its content type; without
// one, JSON is called JSON and anything else octet-stream, so a sink can
// always encode it; an empty body is no data (a Kafka tombstone).
func TestPlainContentTypes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ct, body, wantCT string }{
		{"", `{"a":1}`, "application/json"},
		{"", "\x00\x01", "application/octet-stream"},
		{"text/plain", "hello", "text/plain"},
		{"", "", ""},
	} {
		ev, mode, err := kit.Kafka.Decode(headers("content-type", tc.ct), []byte(tc.body))
		if err != nil || mode != kit.ModePlain {
			t.Fatalf("%q: mode %v, error %v", tc.body, mode, err)
		}
		if ev.DataContentType != tc.wantCT || string(ev.Data) != tc.body || (tc.body == "" && ev.Data != nil) {
			t.Fatalf("%q: content type %q data %q, want %q", tc.body, ev.DataContentType, ev.Data, tc.wantCT)
		}
		ev.ID, ev.Source, ev.Type = "1", "/s", "t"
		if _, err := ev.AppendJSON(nil); err != nil {
			t.Fatalf("%q: plain event does not encode: %v", tc.body, err)
		}
	}
}

// TestEncodeDecodeRoundTrip: what a sink writes with each body, a source
// of the same binding reads back as the same event (data mode: as plain
// data).
func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	ev := api.Event{SpecVersion: "1.0", ID: "id 1/é", Source: "/s", Type: "t", Subject: `a "quoted" 100% subject`,
		Time: time.Date(2024, 5, 1, 12, 0, 0, 5, time.UTC), DataContentType: "application/json", DataSchema: "https://x/s",
		Data: []byte(`{"a":1}`), Extensions: map[string]any{"tenant": "acme", "n": int64(7), "ok": true}}
	// Binary mode carries every extension as text.
	wantBinary := ev
	wantBinary.Extensions = map[string]any{"tenant": "acme", "n": "7", "ok": "true"}
	for _, b := range []kit.Binding{kit.Kafka, kit.HTTP, kit.RocketMQ} {
		for _, body := range []kit.Body{kit.BodyStructured, kit.BodyBinary, kit.BodyData} {
			h := map[string]string{}
			out, err := b.Encode(body, &ev, nil, func(k, v string) { h[k] = v })
			if err != nil {
				t.Fatal(err)
			}
			got, mode, err := b.Decode(maps.All(h), out)
			if err != nil {
				t.Fatalf("%s %v: %v (headers %v)", b.Prefix(), body, err, h)
			}
			want := map[kit.Body]api.Event{kit.BodyStructured: ev, kit.BodyBinary: wantBinary,
				kit.BodyData: {SpecVersion: "1.0", DataContentType: "application/json", Data: ev.Data}}[body]
			wantMode := map[kit.Body]kit.Mode{kit.BodyStructured: kit.ModeStructured, kit.BodyBinary: kit.ModeBinary, kit.BodyData: kit.ModePlain}[body]
			if mode != wantMode || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %v: mode %v, got\n%#v\nwant\n%#v", b.Prefix(), body, mode, got, want)
			}
			if b == kit.HTTP && body == kit.BodyBinary {
				for k, v := range h {
					if strings.ContainsAny(v, " \"é") {
						t.Fatalf("HTTP header %s=%q not percent-encoded", k, v)
					}
				}
			}
		}
	}
}

func TestBodyField(t *testing.T) {
	t.Parallel()
	spec := api.Spec{kit.BodyField}
	for _, v := range []string{"structured", "binary", "data"} {
		c, err := spec.Parse(map[string]string{"body": v})
		if err != nil {
			t.Fatal(err)
		}
		if got := kit.BodyOf(c).String(); got != v {
			t.Fatalf("BodyOf(%q) = %q", v, got)
		}
	}
	c, _ := spec.Parse(nil)
	if kit.BodyOf(c) != kit.BodyStructured {
		t.Fatal("default body is not structured")
	}
	for _, hostile := range []string{"Binary", "json", "structured ", strings.Repeat("x", 1<<16)} {
		var ve *api.ValidationError
		if _, err := spec.Parse(map[string]string{"body": hostile}); !errors.As(err, &ve) || ve.Fields[0].Field != "body" {
			t.Fatalf("body=%.20q: error %v, want a validation error naming body", hostile, err)
		}
	}
}

// FuzzDecode feeds arbitrary headers and bodies to every binding: no
// panic, and every event accepted (plain ones named by the source) can be
// written by a sink in structured mode.
func FuzzDecode(f *testing.F) {
	f.Add("content-type", "application/json", "ce_specversion", "1.0", "ce_id", "x", []byte(`{"a":1}`))
	f.Add("content-type", "application/cloudevents+json", "k", "v", "k2", "v2", []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t"}`))
	f.Add("CE_contenttype", "text/plain", "CE_specversion", "1.0", "CE_time", "2024-01-01T00:00:00Z", []byte("hi"))
	f.Add("Content-Type", "", "ce-specversion", "1.0", "ce-id", "%41", []byte{0xff})
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string, body []byte) {
		h := headers(k1, v1, k2, v2, k3, v3, "ce_source", "/s", "ce-source", "/s", "CE_source", "/s",
			"ce_type", "t", "ce-type", "t", "CE_type", "t", "ce_id", "i", "ce-id", "i", "CE_id", "i")
		for _, b := range []kit.Binding{kit.Kafka, kit.HTTP, kit.RocketMQ} {
			ev, mode, err := b.Decode(h, body)
			if err != nil {
				continue
			}
			if mode == kit.ModeBatch {
				continue
			}
			if mode == kit.ModePlain {
				ev.ID, ev.Source, ev.Type = "p", "/p", "t"
			}
			if _, err := ev.AppendJSON(nil); err != nil {
				t.Fatalf("%s %v: accepted event does not encode: %v", b.Prefix(), mode, err)
			}
		}
	})
}

// TestDecodeEventBridgeTime: a binary-mode time in a form EventBridge
// emits (a local date-time and a region) is taken as the structured-mode
// decoder takes it, with the same instant.
func TestDecodeEventBridgeTime(t *testing.T) {
	t.Parallel()
	const tm = "2020-11-19T21:04:42.179PRC"
	ev, _, err := kit.Kafka.Decode(headers("ce_specversion", "1.0", "ce_id", "1", "ce_source", "/s", "ce_type", "t", "ce_time", tm), nil)
	if err != nil {
		if _, lerr := time.LoadLocation("PRC"); lerr != nil {
			t.Skipf("no time-zone database: %v", lerr)
		}
		t.Fatal(err)
	}
	var want api.Event
	if err := want.UnmarshalJSON([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"` + tm + `"}`)); err != nil {
		t.Fatal(err)
	}
	if !ev.Time.Equal(want.Time) || !ev.Time.Equal(time.Date(2020, 11, 19, 13, 4, 42, 179e6, time.UTC)) {
		t.Fatalf("binary time %v, structured %v", ev.Time, want.Time)
	}
}

// TestEncodeHeadersInOrder: binary mode sets an event's extensions in name
// order, after its attributes, the same every time.
func TestEncodeHeadersInOrder(t *testing.T) {
	t.Parallel()
	ev := api.Event{SpecVersion: "1.0", ID: "1", Source: "/s", Type: "t",
		Extensions: map[string]any{"zeta": "z", "alpha": "a", "mid": int64(3), "beta": true, "omega": "o"}}
	var first []string
	for i := range 30 {
		var names []string
		if err := kit.Kafka.EncodeHeaders(&ev, func(k, _ string) { names = append(names, k) }); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = names
			exts := names[len(names)-5:]
			if !slices.IsSorted(exts) {
				t.Fatalf("extension headers %v not in name order", exts)
			}
			continue
		}
		if !slices.Equal(names, first) {
			t.Fatalf("headers %v, the first time %v", names, first)
		}
	}
}
