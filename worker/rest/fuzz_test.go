package rest_test

import (
	"encoding/json"
	"testing"
)

// FuzzRESTBodies feeds arbitrary bodies to every route that decodes one.
// Whatever arrives, the server must answer with a documented status and a
// JSON body, and every error must be in Kafka Connect's shape.
func FuzzRESTBodies(f *testing.F) {
	seeds := []string{
		`{"name": "c", "config": {"source": "generator", "sink": "file", "sink.path": "/tmp/x"}}`,
		`{"name": "c", "config": {"tasks.max": 3, "x": true, "y": null, "z": {"a": 1}, "w": [1]}}`,
		`{"source": "generator", "sink": "file", "sink.path": "/tmp/x", "n": 1e400}`,
		`{"offsets": [{"partition": {"p": "0"}, "offset": {"o": 1}}, {"partition": {"p": 1}, "offset": null}]}`,
		`{"name": "c", "config": {`,
		`{"name": "\u0000", "config": {"\ud800": "\udfff"}}`,
		`[]`, `null`, `""`, `0`, `{} {}`, "\xff\xfe",
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	h := newTestServer(f, newRestFake(), nil).Handler()
	routes := []struct{ method, path string }{
		{"POST", "/connectors"},
		{"POST", "/connectors/fuzz"},
		{"PUT", "/connectors/fuzz/config"},
		{"PATCH", "/connectors/fuzz/config"},
		{"PATCH", "/connectors/fuzz/offsets"},
		{"PUT", "/connector-plugins/file/config/validate"},
	}
	allowed := map[int]bool{200: true, 201: true, 400: true, 404: true, 409: true, 413: true}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		r := routes[int(route)%len(routes)]
		rec := do(h, r.method, r.path, body)
		if !allowed[rec.Code] {
			t.Fatalf("%s %s: status %d; body %s", r.method, r.path, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: answer is not JSON: %q", r.method, r.path, rec.Body)
		}
		if rec.Code >= 400 {
			var e struct {
				ErrorCode int    `json:"error_code"`
				Message   string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.ErrorCode != rec.Code || e.Message == "" {
				t.Fatalf("%s %s: error body %s not in Kafka Connect's shape", r.method, r.path, rec.Body)
			}
		}
		// Leave the fake as it was, so inputs do not depend on each other.
		do(h, "DELETE", "/connectors/fuzz", "")
		do(h, "DELETE", "/connectors/c", "")
	})
}
