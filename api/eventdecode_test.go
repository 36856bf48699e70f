package api

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// event1K is a 1 KB structured-mode CloudEvent like the ones the issue
// measures: the required attributes, time, subject, content type, two
// extensions and a JSON object of data.
var event1K = []byte(`{"specversion":"1.0","id":"gen-0-123456","source":"ferry://generator/orders","type":"com.example.order.created",` +
	`"subject":"orders/123456","time":"2024-05-01T12:34:56.789Z","datacontenttype":"application/json","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","partitionkey":"customer-42",` +
	`"data":{"seq":123456,"task":0,"tags":["a","b"],"nested":{"x":1.5,"y":null,"ok":true},"payload":"` +
	strings.Repeat("abcdefghij", 75) + `"}}`)

func TestUnmarshalJSON(t *testing.T) {
	t.Parallel()
	ts := time.Date(2024, 5, 1, 12, 34, 56, 789e6, time.UTC)
	for _, tc := range []struct {
		name    string
		in      string
		want    Event
		wantErr string // substring; "" means success
	}{
		{name: "minimal", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`,
			want: Event{SpecVersion: "1.0", ID: "1", Source: "/s", Type: "t"}},
		{name: "every attribute and JSON data",
			in: ` {"id":"1","source":"/s","specversion":"1.0","type":"t","subject":"sub","time":"2024-05-01T12:34:56.789Z","datacontenttype":"application/json","dataschema":"https://x/s.json","data":{"a":[1,2]} } `,
			want: Event{SpecVersion: "1.0", ID: "1", Source: "/s", Type: "t", Subject: "sub", Time: ts,
				DataContentType: "application/json", DataSchema: "https://x/s.json", Data: []byte(`{"a":[1,2]}`)}},
		{name: "escaped attribute and key", in: `{"specversion":"1.0","\u0069d":"a\"b\u00e9\n","source":"/s","type":"t"}`,
			want: Event{SpecVersion: "1.0", ID: "a\"b\u00e9\n", Source: "/s", Type: "t"}},
		{name: "text data is unescaped", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":"hi\tthere"}`,
			want: Event{SpecVersion: "1.0", ID: "1", Source: "/s", Type: "t", DataContentType: "text/plain", Data: []byte("hi\tthere")}},
		{name: "JSON string data stays JSON", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"hi"}`,
			want: Event{SpecVersion: "1.0", ID: "1", Source: "/s", Type: "t", Data: []byte(`"hi"`)}},
		{name: "data_base64", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AAH/"}`,
			want: Event{SpecVersion: "1.0", ID: "1", Source: "/s", Type: "t", DataContentType: "application/octet-stream", Data: []byte{0, 1, 0xff}}},
		{name: "extensions", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t","s":"x","b":true,"i":-42,"f":1.5,"n":null}`,
			want: Event{SpecVersion: "1.0", ID: "1", Source: "/s", Type: "t",
				Extensions: map[string]any{"s": "x", "b": true, "i": int64(-42), "f": 1.5}}},
		{name: "repeated member: the last counts", in: `{"specversion":"1.0","id":1,"id":"2","source":"/s","type":"t","x":{},"x":"y","x":"z"}`,
			want: Event{SpecVersion: "1.0", ID: "2", Source: "/s", Type: "t", Extensions: map[string]any{"x": "z"}}},
		{name: "no specversion", in: `{"id":"1","source":"/s","type":"t"}`, wantErr: ErrNoSpecVersion.Error()},
		{name: "wrong specversion", in: `{"specversion":"0.3","id":"1","source":"/s","type":"t"}`, wantErr: "specversion must be"},
		{name: "missing id", in: `{"specversion":"1.0","source":"/s","type":"t"}`, wantErr: `"id" is missing`},
		{name: "null id", in: `{"specversion":"1.0","id":null,"source":"/s","type":"t"}`, wantErr: `"id" is missing`},
		{name: "numeric id", in: `{"specversion":"1.0","id":1,"source":"/s","type":"t"}`, wantErr: `"id" must be a string`},
		{name: "bad time", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"yesterday"}`, wantErr: `"time"`},
		{name: "null time", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t","time":null}`, wantErr: `"time"`},
		{name: "both data members", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data_base64":"AA=="}`, wantErr: "both"},
		{name: "bad base64", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"A"}`, wantErr: "data_base64"},
		{name: "base64 data not JSON for a JSON type", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","data_base64":"eyJh"}`, wantErr: "not valid JSON"},
		{name: "upper-case extension", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t","Ext":"x"}`, wantErr: "invalid extension attribute name"},
		{name: "object extension", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":{}}`, wantErr: "must be a string, number or boolean"},
		{name: "trailing bytes", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t"} x`, wantErr: "invalid JSON"},
		{name: "truncated", in: `{"specversion":"1.0","id":"1"`, wantErr: "invalid JSON"},
		{name: "bad data", in: `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":}}`, wantErr: "invalid JSON"},
		{name: "array", in: `[1]`, wantErr: "not a JSON object"},
		{name: "null", in: `null`, wantErr: "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got Event
			err := got.UnmarshalJSON([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// TestUnmarshalJSONNoSpecVersionIsSentinel: sources tell plain JSON
// objects from CloudEvents by this error, whatever else the object holds.
func TestUnmarshalJSONNoSpecVersionIsSentinel(t *testing.T) {
	t.Parallel()
	var e Event
	if err := e.UnmarshalJSON([]byte(`{"Name":{"deep":[1]},"id":5}`)); !errors.Is(err, ErrNoSpecVersion) {
		t.Fatalf("error %v, want ErrNoSpecVersion", err)
	}
	if err := e.UnmarshalJSON([]byte(`{"Name":1,"specversion":null}`)); err == nil || errors.Is(err, ErrNoSpecVersion) {
		t.Fatalf("error %v, want a specversion error that is not ErrNoSpecVersion", err)
	}
}

// TestUnmarshalJSONDoesNotRetainInput: json.Unmarshaler must copy what it
// keeps, and sources reuse their read buffers.
func TestUnmarshalJSONDoesNotRetainInput(t *testing.T) {
	t.Parallel()
	b := append([]byte(nil), event1K...)
	var e Event
	if err := e.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	want := e.Data[:20:20]
	want = append([]byte(nil), want...)
	for i := range b {
		b[i] = 'X'
	}
	if string(e.Data[:20]) != string(want) || e.ID != "gen-0-123456" || e.Extensions["partitionkey"] != "customer-42" {
		t.Fatalf("decoded event changed with its input: %q %q", e.Data[:20], e.ID)
	}
}

// TestUnmarshalJSONAllocs holds the decoder to the bound: a 1 KB
// event without extensions in two allocations (the attributes' text and
// the data).
func TestUnmarshalJSONAllocs(t *testing.T) {
	doc := []byte(`{"specversion":"1.0","id":"gen-0-123456","source":"ferry://generator/orders","type":"com.example.order.created",` +
		`"subject":"orders/123456","time":"2024-05-01T12:34:56.789Z","datacontenttype":"application/json",` +
		`"data":{"payload":"` + strings.Repeat("abcdefghij", 90) + `"}}`)
	var e Event
	if n := testing.AllocsPerRun(100, func() {
		if err := e.UnmarshalJSON(doc); err != nil {
			t.Fatal(err)
		}
	}); n > 2 {
		t.Fatalf("%v allocations per decode, want at most 2", n)
	}
}

// FuzzUnmarshalJSON holds the one-pass decoder to the encoding/json-based
// reference: the same inputs accepted, the same event decoded. The
// decoder also rejects what the sources rejected after decoding (an event
// AppendJSON cannot encode).
func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range []string{
		string(event1K),
		`{"specversion":"1.0","id":"1","source":"/s","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":"a\u00e9\ud83d\ude00"}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAE=","e1":1e400,"e2":-0,"e3":1.0}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","data_base64":"eyJhIjoxfQ=="}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","x":null,"x":{},"data":null,"data_base64":null}`,
		`{"specversion":"1.0","id":"\ud800","source":"/s","type":"t","time":"2024-01-01T00:00:00+01:00"}`,
		"{\"specversion\":\"1.0\",\"id\":\"\xff\",\"source\":\"/s\",\"type\":\"t\",\"\\u0061\":true}",
		`{"a":1}`, `[]`, `{}`, ``, `{"specversion":"1.0"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got, want Event
		err := got.UnmarshalJSON(b)
		werr := referenceUnmarshal(&want, b)
		if werr == nil {
			if _, encErr := want.AppendJSON(nil); encErr != nil {
				werr = encErr
			}
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: one-pass decoder error %v, reference error %v", b, err, werr)
		}
		if err != nil {
			return
		}
		if !got.Time.Equal(want.Time) || got.Time.Format(time.RFC3339Nano) != want.Time.Format(time.RFC3339Nano) {
			t.Fatalf("%q: time %v, reference %v", b, got.Time, want.Time)
		}
		got.Time, want.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\ngot       %#v\nreference %#v", b, got, want)
		}
	})
}

// event1KPlain is a 1 KB event without extensions, as the generator and
// the file sink write them.
var event1KPlain = []byte(`{"specversion":"1.0","id":"gen-0-123456","source":"ferry://generator/orders","type":"com.example.order.created",` +
	`"subject":"orders/123456","time":"2024-05-01T12:34:56.789Z","datacontenttype":"application/json",` +
	`"data":{"seq":123456,"task":0,"tags":["a","b"],"nested":{"x":1.5,"y":null,"ok":true},"payload":"` +
	strings.Repeat("abcdefghij", 82) + `"}}`)

// BenchmarkUnmarshalJSON decodes a 1 KB event (without extensions, and
// with two) with the one-pass decoder and with the encoding/json-based
// decoder it replaced, in the same run. The sources' old path also
// re-encoded each event to check it (AppendJSON), which the one-pass
// decoder makes unnecessary: the +check case.
func BenchmarkUnmarshalJSON(b *testing.B) {
	for _, doc := range []struct {
		name string
		b    []byte
	}{{"1KB", event1KPlain}, {"1KB-2ext", event1K}} {
		for _, dec := range []struct {
			name string
			f    func(*Event, []byte) error
		}{
			{"one-pass", (*Event).UnmarshalJSON},
			{"encoding-json", referenceUnmarshal},
			{"encoding-json+check", func(e *Event, b []byte) error {
				if err := referenceUnmarshal(e, b); err != nil {
					return err
				}
				_, err := e.AppendJSON(nil)
				return err
			}},
		} {
			b.Run(doc.name+"/"+dec.name, func(b *testing.B) {
				b.SetBytes(int64(len(doc.b)))
				b.ReportAllocs()
				var e Event
				for b.Loop() {
					if err := dec.f(&e, doc.b); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

var _ json.Unmarshaler = (*Event)(nil)
