package http

import (
	"errors"
	nethttp "net/http"
	"testing"
)

// FuzzDecodeRequest checks that no body or header value panics the
// decoder and that every accepted event can be written by a sink.
func FuzzDecodeRequest(f *testing.F) {
	seeds := []struct{ ct, specversion, body string }{
		{"application/json", "", `{"a":1}`},
		{"", "", `[1,2,3]`},
		{"application/cloudevents+json", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"x":1}}`},
		{"application/cloudevents-batch+json", "", `[{"specversion":"1.0","id":"1","source":"/s","type":"t"}]`},
		{"text/plain", "1.0", "hello"},
		{"", "1.0", "\x00\x01"},
		{"application/json", "1.0", `{"a":`},
		{"multipart/form-data; boundary=x", "", "--x--"},
	}
	for _, s := range seeds {
		f.Add(s.ct, s.specversion, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ct, specversion string, body []byte) {
		h := nethttp.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		if specversion != "" {
			h.Set("ce-specversion", specversion)
			h.Set("ce-id", "id")
			h.Set("ce-source", "/s")
			h.Set("ce-type", "t")
		}
		events, plain, err := decodeRequest(h, body)
		if err != nil {
			if !errors.Is(err, errMalformed) && !errors.Is(err, errUnsupportedType) {
				t.Fatalf("error %v is neither malformed nor unsupported", err)
			}
			return
		}
		for i := range events {
			if plain {
				events[i].ID, events[i].Source = "x", "/x"
			}
			if _, err := events[i].AppendJSON(nil); err != nil {
				t.Fatalf("accepted event %d does not encode: %v", i, err)
			}
		}
	})
}

func TestDecodeRequestModes(t *testing.T) {
	t.Parallel()
	structured := `{"specversion":"1.0","id":"s1","source":"/s","type":"t","data":{"a":1}}`
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    string
		wantID  string
		plain   bool
		wantErr error
	}{
		{"structured wins over ce- headers", map[string]string{"Content-Type": "application/cloudevents+json", "Ce-Specversion": "1.0", "Ce-Id": "b1"}, structured, "s1", false, nil},
		{"binary", map[string]string{"Content-Type": "application/json", "Ce-Specversion": "1.0", "Ce-Id": "b1", "Ce-Source": "/s", "Ce-Type": "t"}, `{"a":1}`, "b1", false, nil},
		{"plain", map[string]string{"Content-Type": "application/json"}, `{"a":1}`, "", true, nil},
		{"plain without Content-Type", nil, `{"a":1}`, "", true, nil},
		{"not JSON without Content-Type", nil, `{"a":`, "", false, errMalformed},
		{"empty plain body", map[string]string{"Content-Type": "application/json"}, ``, "", false, errMalformed},
		{"avro structured", map[string]string{"Content-Type": "application/cloudevents+avro"}, `x`, "", false, errUnsupportedType},
		{"batch with other format", map[string]string{"Content-Type": "application/cloudevents-batch+avro"}, `[]`, "", false, errUnsupportedType},
		{"text body", map[string]string{"Content-Type": "text/plain"}, `hi`, "", false, errUnsupportedType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := nethttp.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			events, plain, err := decodeRequest(h, []byte(tc.body))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 || events[0].ID != tc.wantID || plain != tc.plain {
				t.Fatalf("events %+v plain %v, want id %q plain %v", events, plain, tc.wantID, tc.plain)
			}
		})
	}
}
