package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// batchEvents are the events of the batch golden tests: JSON data, text
// data, binary data and no data.
func batchEvents() []api.Record {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	ev := func(id, ct, data, tenant string) api.Record {
		e := api.Event{ID: id, Source: "/shop", SpecVersion: "1.0", Type: "order.created", Time: t0, DataContentType: ct}
		if data != "" {
			e.Data = []byte(data)
		}
		if tenant != "" {
			e.SetExtension("tenant", tenant)
		}
		return api.Record{Event: e}
	}
	return []api.Record{
		ev("b-1", "application/json", `{"order":1,"total":12.5}`, "acme"),
		ev("b-2", "application/json", `{"order":2,"total":3}`, "acme"),
		ev("b-3", "text/plain", "line \"three\"\n", "globex"),
		ev("b-4", "application/octet-stream", "\xff\xfe\x00", "acme"),
		ev("b-5", "", "", "acme"),
	}
}

// TestSinkBatchGolden: the requests each batch mode makes, byte for byte,
// in testdata/sink-batch-<name>.golden (go test -run BatchGolden -update
// rewrites them).
func TestSinkBatchGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      map[string]string
		rejected string // indexes rejected, as fmt prints them
	}{
		{"json-array-structured", map[string]string{"batch": "json-array", "batch.max.records": "2"}, "[]"},
		{"json-array-data", map[string]string{"batch": "json-array", "body": "data"}, "[3]"},
		{"json-array-template", map[string]string{"batch": "json-array", "body": "template", "body.form": "TEMPLATE",
			"body.value": `{"id":"$.id","t":"$.tenant","total":"$.data.total"}`, "body.template": `{"id":"${id}","tenant":"${t}","total":${total}}`}, "[]"},
		{"cloudevents-batch", map[string]string{"batch": "cloudevents-batch"}, "[]"},
		{"cloudevents-batch-bytes", map[string]string{"batch": "cloudevents-batch", "batch.max.bytes": "1024"}, "[]"},
		{"json-array-per-tenant", map[string]string{"batch": "json-array", "body": "data", "vars": `{"t":"$.tenant"}`,
			"headers.X-Tenant": "${t}", "query.tenant": "${t}"}, "[3]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ep := newEndpoint(t, nil)
			cfg := map[string]string{"url": ep.srv.URL + "/batch"}
			for k, v := range tt.cfg {
				cfg[k] = v
			}
			s := openSink(t, cfg, nil)
			recs := batchEvents()
			if tt.name == "cloudevents-batch-bytes" {
				// Three events of 300 bytes of data: two fit in 1024 bytes;
				// one of 2000 bytes goes alone.
				for i := range recs[:3] {
					recs[i].Event.DataContentType = "application/json"
					recs[i].Event.Data = []byte(`"` + strings.Repeat("x", 300) + `"`)
				}
				recs[3].Event.DataContentType = "application/json"
				recs[3].Event.Data = []byte(`"` + strings.Repeat("y", 2000) + `"`)
			}
			err := s.Write(context.Background(), recs)
			var rejected []int
			var re *api.RecordErrors
			if errors.As(err, &re) {
				for _, e := range *re {
					rejected = append(rejected, e.Index)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(rejected); got != tt.rejected && !(got == "[]" && tt.rejected == "[]") {
				t.Fatalf("rejected %s (%v), want %s", got, err, tt.rejected)
			}
			var b strings.Builder
			for _, r := range ep.requests() {
				fmt.Fprintf(&b, "%s %s?%s\nContent-Type: %s\n", r.Method, r.Path, r.Query, r.Header.Get("Content-Type"))
				if v := r.Header.Get("X-Tenant"); v != "" {
					fmt.Fprintf(&b, "X-Tenant: %s\n", v)
				}
				if !json.Valid(r.Body) {
					t.Errorf("request body is not JSON: %s", r.Body)
				}
				fmt.Fprintf(&b, "%s\n\n", r.Body)
			}
			got := b.String()
			path := filepath.Join("testdata", "sink-batch-"+tt.name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("requests differ from %s:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// TestSinkBatchOutcome: a batch's answer applies to every event in it: a
// 400 rejects them all with the status, a 503 retries the whole batch
// and the engine's retry skips the batches already delivered.
func TestSinkBatchOutcome(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	ep := newEndpoint(t, func(r *received, _ int) answer {
		n := calls.Add(1)
		switch {
		case strings.Contains(string(r.Body), `"id":"q-2"`):
			return answer{status: 400, body: "batch refused"}
		case strings.Contains(string(r.Body), `"id":"q-4"`) && n < 4:
			return answer{status: 503}
		}
		return answer{status: 200}
	})
	s := openSink(t, map[string]string{"url": ep.srv.URL, "batch": "cloudevents-batch", "batch.max.records": "2"}, nil)
	recs := apitest.Records("q", 6) // batches [0 1] [2 3] [4 5]
	err := s.Write(context.Background(), recs)
	if err == nil || errors.As(err, new(*api.RecordErrors)) || !api.IsRetryable(err) {
		t.Fatalf("first Write = %v, want retryable (503)", err)
	}
	err = s.Write(context.Background(), recs)
	var re *api.RecordErrors
	if !errors.As(err, &re) || len(*re) != 2 || (*re)[0].Index != 2 || (*re)[1].Index != 3 || !strings.Contains(err.Error(), "answered 400") {
		t.Fatalf("second Write = %v, want records 2 and 3 rejected with 400", err)
	}
	var bodies []string
	for _, r := range ep.requests() {
		var evs []struct{ ID string }
		if err := json.Unmarshal(r.Body, &evs); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		bodies = append(bodies, strings.Join(ids, "+")+"="+fmt.Sprint(r.Status))
	}
	if got := strings.Join(bodies, " "); got != "q-0+q-1=200 q-2+q-3=400 q-4+q-5=503 q-2+q-3=400 q-4+q-5=200" {
		t.Fatalf("requests %s", got)
	}
}
