package webhook

import (
	"errors"
	"net/http"
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
		h := http.Header{}
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
