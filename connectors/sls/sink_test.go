package sls_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/sls"
	emu "github.com/ferryhq/ferry/internal/emulator/sls"
	"github.com/ferryhq/ferry/internal/emulator/sls/slstest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestConformance runs the connector kit's sink checks against the test
// bed's emulator, reading back with the SDK.
func TestConformance(t *testing.T) {
	b := testbedSLS(t)
	proj := slstest.Name("ferry-conf")
	b.Store(t, proj, "events", 2)
	b.Client() // the SDK's package state before the kit's leak baseline
	apitest.RunSink(t, apitest.SinkCase{
		Plugin: sls.Sink,
		Config: b.config(proj, "events", "contents", "map",
			"contents.id.form", "JSONPATH", "contents.id.value", "$.id",
			"contents.source.form", "JSONPATH", "contents.source.value", "$.source",
			"contents.type.form", "JSONPATH", "contents.type.value", "$.type",
			"contents.data.form", "JSONPATH", "contents.data.value", "$.data"),
		ReadBack: func(t testing.TB) []api.Event {
			var out []api.Event
			for _, l := range logs(b.ReadAll(t, proj, "events")) {
				out = append(out, api.Event{ID: l["id"], Source: l["source"], Type: l["type"], Data: []byte(l["data"])})
			}
			return out
		},
	})
}

// TestGeneratorRoundTrip: generator events → sink → read back with the
// SDK: every event present once with the mapped keys, under each
// compression.
func TestGeneratorRoundTrip(t *testing.T) {
	t.Parallel()
	b := testbedSLS(t)
	for _, comp := range []string{"lz4", "zstd", "none"} {
		t.Run(comp, func(t *testing.T) {
			t.Parallel()
			proj := slstest.Name("ferry-gen-" + comp)
			b.Store(t, proj, "events", 2)
			recs := generate(t, 2000, 200)
			s := open(t, b.config(proj, "events", "compression", comp, "topic.form", "JSONPATH", "topic.value", "$.type",
				"source", "ferry-test", "hash.key.form", "JSONPATH", "hash.key.value", "$.data.seq", "batch.count", "300"))
			for lo := 0; lo < len(recs); lo += 1024 {
				if err := write(s, recs[lo:min(lo+1024, len(recs))]); err != nil {
					t.Fatal(err)
				}
			}
			got := map[string]map[string]string{}
			groups := b.ReadAll(t, proj, "events")
			for _, l := range logs(groups) {
				if _, dup := got[l["id"]]; dup {
					t.Errorf("event %s stored twice", l["id"])
				}
				got[l["id"]] = l
			}
			for _, r := range recs {
				l, ok := got[r.Event.ID]
				if !ok {
					t.Errorf("event %s missing", r.Event.ID)
					continue
				}
				var data map[string]any
				_ = json.Unmarshal(r.Event.Data, &data)
				want := map[string]string{"source": r.Event.Source, "type": r.Event.Type, "specversion": "1.0",
					"__topic__": r.Event.Type, "__source__": "ferry-test",
					"time":     r.Event.Time.UTC().Format(time.RFC3339Nano),
					"__time__": itoa(r.Event.Time.Unix()),
					"data.seq": jsonText(data["seq"]), "data.task": jsonText(data["task"]), "data.payload": data["payload"].(string)}
				for k, v := range want {
					if l[k] != v {
						t.Errorf("event %s: %s = %q, want %q", r.Event.ID, k, l[k], v)
					}
				}
			}
			if len(got) != len(recs) {
				t.Errorf("read %d logs, wrote %d", len(got), len(recs))
			}
			if len(groups) >= len(recs)/2 {
				t.Errorf("%d log groups for %d logs: not batched", len(groups), len(recs))
			}
		})
	}
}

func itoa(n int64) string   { b, _ := json.Marshal(n); return string(b) }
func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }

// goldenEvent is the event of the golden tests: nested data, an array,
// null, a number with exponent, an extension, XML and non-ASCII text.
func goldenEvent() api.Record {
	r := jsonRecord("order-42", `{"order":{"id":42,"total":1.5e2,"lines":[{"sku":"a&b"},{"sku":"<c>"}],"note":null,"buyer":{"name":"Zoë","vip":true}},"region":"cn-hangzhou"}`)
	r.Event.Subject = "orders/42"
	r.Event.SetExtension("tenant", "acme")
	return r
}

// TestContentsGolden: what contents=event, data and map (EventBridge's
// ContentSchema, with every form) make of one event, read back with the
// SDK, against testdata/contents-<mode>.golden.
func TestContentsGolden(t *testing.T) {
	t.Parallel()
	b := testbedSLS(t)
	for _, tc := range []struct {
		name string
		kv   []string
	}{
		{"event", []string{"contents", "event"}},
		{"data", []string{"contents", "data"}},
		{"map", []string{"contents", "map",
			"contents.tenant", "acme-prod", // a constant
			"contents.order_id.form", "JSONPATH", "contents.order_id.value", "$.data.order.id",
			"contents.lines.form", "JSONPATH", "contents.lines.value", "$.data.order.lines",
			"contents.first_sku.form", "JSONPATH", "contents.first_sku.value", "$.data.order.lines[0].sku",
			"contents.missing.form", "JSONPATH", "contents.missing.value", "$.data.nope",
			"contents.summary.form", "TEMPLATE", "contents.summary.value", `{"id":"$.data.order.id","who":"$.data.order.buyer.name"}`,
			"contents.summary.template", "order ${id} for ${who}",
			"contents.json.form", "TEMPLATE", "contents.json.value", `{"id":"$.data.order.id","vip":"$.data.order.buyer.vip"}`,
			"contents.json.template", `{"order":${id},"vip":${vip}}`,
			"contents.kind.form", "CONSTANT", "contents.kind.value", "order",
			"contents.raw.form", "ORIGINAL",
			"topic.form", "JSONPATH", "topic.value", "$.data.region",
			"time", "1700000000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			proj := slstest.Name("ferry-golden-" + tc.name)
			b.Store(t, proj, "events", 2)
			s := open(t, b.config(proj, "events", tc.kv...))
			if err := write(s, []api.Record{goldenEvent()}); err != nil {
				t.Fatal(err)
			}
			ls := logs(b.ReadAll(t, proj, "events"))
			if len(ls) != 1 {
				t.Fatalf("read %d logs", len(ls))
			}
			var out bytes.Buffer
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(ls[0]); err != nil {
				t.Fatal(err)
			}
			got := out.Bytes()
			path := filepath.Join("testdata", "contents-"+tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("log differs from %s:\n%s", path, got)
			}
		})
	}
}

// TestRecordFaults: records that can never be written are rejected alone,
// before any call, and the rest are stored.
func TestRecordFaults(t *testing.T) {
	t.Parallel()
	b := testbedSLS(t)
	proj := slstest.Name("ferry-faults")
	b.Store(t, proj, "events", 2)
	s := open(t, b.config(proj, "events", "time.form", "JSONPATH", "time.value", "$.data.t",
		"topic.form", "JSONPATH", "topic.value", "$.data.topic"))
	wide := map[string]int{}
	for i := range 1100 {
		wide["k"+itoa(int64(i))] = i
	}
	wideJSON, _ := json.Marshal(map[string]any{"t": 1, "wide": wide})
	recs := []api.Record{
		jsonRecord("ok", `{"t":1700000000,"topic":"a"}`),
		jsonRecord("bad-time", `{"t":"yesterday"}`),
		jsonRecord("negative-time", `{"t":-5}`),
		jsonRecord("huge-time", `{"t":99999999999}`),
		jsonRecord("long-topic", `{"t":1,"topic":"`+strings.Repeat("x", 600)+`"}`),
		jsonRecord("too-many-keys", string(wideJSON)),
		{Event: api.Event{ID: "not-json", Source: "/t", Type: "t", DataContentType: "application/json", Data: []byte("{oops")}},
		jsonRecord("rfc3339", `{"t":"2026-01-02T03:04:05.5Z","topic":"b"}`),
	}
	err := write(s, recs)
	var re *api.RecordErrors
	if !errors.As(err, &re) {
		t.Fatalf("Write = %v, want record errors", err)
	}
	var idx []int
	for _, e := range *re {
		idx = append(idx, e.Index)
		if !api.IsFatal(e.Err) {
			t.Errorf("record %d: %v not marked fatal", e.Index, e.Err)
		}
	}
	if want := []int{1, 2, 3, 4, 5, 6}; !equalInts(idx, want) {
		t.Errorf("rejected %v, want %v: %v", idx, want, err)
	}
	ls := logs(b.ReadAll(t, proj, "events"))
	if len(ls) != 2 {
		t.Fatalf("stored %d logs, want 2", len(ls))
	}
	for _, l := range ls {
		if l["id"] == "rfc3339" && l["__time__"] != "1767323045" {
			t.Errorf("RFC 3339 time stored as %s", l["__time__"])
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// faulty serves a private emulator behind a handler that answers some
// PutLogs with an SLS error first.
func faulty(t *testing.T, cfg emu.Config, fault func(body []byte) (status int, code string)) bed {
	t.Helper()
	cfg.AccessKeyID, cfg.AccessKeySecret = "id", "secret"
	srv, err := emu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/logstores/") && fault != nil {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if status, code := fault(body); code != "" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_ = json.NewEncoder(w).Encode(map[string]string{"errorCode": code, "errorMessage": "injected"})
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	u, _ := url.Parse(ts.URL)
	return bed{slstest.Bed{Addr: u.Host, ID: "id", Secret: "secret"}}
}

// TestQuotaBackoff: a write quota error is retryable with a wait of at
// least a second, and the engine's retry stores every log once.
func TestQuotaBackoff(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	b := faulty(t, emu.Config{}, func([]byte) (int, string) {
		if n.Add(1)%3 == 2 { // the second call of every three
			return http.StatusForbidden, "ShardWriteQuotaExceed"
		}
		return 0, ""
	})
	proj := slstest.Name("ferry-quota")
	b.Store(t, proj, "events", 2)
	s := open(t, b.config(proj, "events", "batch.count", "10", "send.parallelism", "1"))
	recs := generate(t, 50, 20)
	err := write(s, recs)
	if err == nil || api.IsFatal(err) || api.BackoffHint(err) < time.Second || !strings.Contains(err.Error(), "ShardWriteQuotaExceed") {
		t.Fatalf("Write = %v (hint %v); want retryable, a hint of at least 1s, naming the code", err, api.BackoffHint(err))
	}
	for tries := 0; err != nil; tries++ {
		if tries > 20 {
			t.Fatalf("still failing: %v", err)
		}
		err = write(s, recs)
	}
	counts := map[string]int{}
	for _, l := range logs(b.ReadAll(t, proj, "events")) {
		counts[l["id"]]++
	}
	for _, r := range recs {
		if counts[r.Event.ID] != 1 {
			t.Errorf("%s stored %d times", r.Event.ID, counts[r.Event.ID])
		}
	}
}

// TestRefusedLogsIsolated: when SLS refuses a LogGroup for its content,
// the sink splits it until only the refused logs are rejected; the others
// are stored once.
func TestRefusedLogsIsolated(t *testing.T) {
	t.Parallel()
	b := faulty(t, emu.Config{}, func(body []byte) (int, string) {
		if bytes.Contains(body, []byte("poison")) {
			return http.StatusBadRequest, "InvalidKey"
		}
		return 0, ""
	})
	proj := slstest.Name("ferry-poison")
	b.Store(t, proj, "events", 2)
	s := open(t, b.config(proj, "events", "compression", "none", "send.parallelism", "1"))
	var recs []api.Record
	for i := range 20 {
		data := `{"i":` + itoa(int64(i)) + `}`
		if i == 5 || i == 13 {
			data = `{"poison":true}`
		}
		recs = append(recs, jsonRecord("r"+itoa(int64(i)), data))
	}
	err := write(s, recs)
	var re *api.RecordErrors
	if !errors.As(err, &re) || len(*re) != 2 || (*re)[0].Index != 5 || (*re)[1].Index != 13 {
		t.Fatalf("Write = %v; want records 5 and 13 rejected", err)
	}
	if !strings.Contains(err.Error(), "InvalidKey") {
		t.Errorf("rejection does not carry SLS's code: %v", err)
	}
	if got := logs(b.ReadAll(t, proj, "events")); len(got) != 18 {
		t.Errorf("stored %d logs, want 18", len(got))
	}
}

// TestOpenErrors: a wrong endpoint, a wrong secret and a missing logstore
// or project fail Open with what to fix; all but the unreachable endpoint
// are fatal.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	b := testbedSLS(t)
	strict := faulty(t, emu.Config{RequireCreate: true}, nil)
	if _, err := strict.Client().CreateProject("ferry-strict", ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		cfg   map[string]string
		fatal bool
		want  string
	}{
		{"unreachable endpoint", b.config("p-x", "events", "connect.address", "127.0.0.1:1", "request.timeout", "2s"), false, "endpoint unreachable"},
		{"wrong secret", b.config("p-x", "events", "access.key.secret", "wrong"), true, "access.key.secret does not match"},
		{"missing logstore", strict.config("ferry-strict", "nothing"), true, "the logstore does not exist"},
		{"missing project", strict.config("ferry-nowhere", "nothing"), true, "the project does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := newSink(t, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = s.Open(ctx)
			defer s.Close(context.Background())
			if err == nil || api.IsFatal(err) != tc.fatal || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v (fatal %v); want fatal=%v containing %q", err, api.IsFatal(err), tc.fatal, tc.want)
			}
		})
	}
}

// TestWriteHonoursCancel: a cancelled Write returns ctx's error.
func TestWriteHonoursCancel(t *testing.T) {
	t.Parallel()
	b := testbedSLS(t)
	proj := slstest.Name("ferry-cancel")
	b.Store(t, proj, "events", 2)
	s := open(t, b.config(proj, "events"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Write(ctx, generate(t, 10, 10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write after cancel = %v", err)
	}
}

// TestConfigRejected: every bounded setting refuses a hostile value, and
// the error names the field.
func TestConfigRejected(t *testing.T) {
	t.Parallel()
	b := bed{slstest.Bed{Addr: "127.0.0.1:1", ID: "id", Secret: "secret"}}
	long := strings.Repeat("a", 400)
	for _, tc := range []struct {
		name, field string
		kv          []string
	}{
		{"endpoint path", "endpoint", []string{"endpoint", "cn-hangzhou.log.aliyuncs.com/x"}},
		{"endpoint scheme", "endpoint", []string{"endpoint", "ftp://cn-hangzhou.log.aliyuncs.com"}},
		{"endpoint chars", "endpoint", []string{"endpoint", "cn hangzhou"}},
		{"endpoint too long", "endpoint", []string{"endpoint", long + ".log.aliyuncs.com"}},
		{"connect.address", "connect.address", []string{"connect.address", "nohostport"}},
		{"project upper", "project", []string{"project", "MyProject"}},
		{"project short", "project", []string{"project", "ab"}},
		{"project long", "project", []string{"project", long}},
		{"logstore chars", "logstore", []string{"logstore", "log store"}},
		{"signature", "signature.version", []string{"signature.version", "v2"}},
		{"v4 without region", "region", []string{"signature.version", "v4"}},
		{"region chars", "region", []string{"region", "CN Hangzhou"}},
		{"contents unknown", "contents", []string{"contents", "all"}},
		{"map without keys", "contents", []string{"contents", "map"}},
		{"keys without map", "contents.a", []string{"contents.a", "x"}},
		{"reserved key", "contents.__topic__", []string{"contents", "map", "contents.__topic__", "x"}},
		{"key chars", "contents.a b", []string{"contents", "map", "contents.a b", "x"}},
		{"key too long", "contents." + long, []string{"contents", "map", "contents." + long, "x"}},
		{"key bad form", "contents.a.form", []string{"contents", "map", "contents.a.form", "XPATH"}},
		{"key bad path", "contents.a.value", []string{"contents", "map", "contents.a.form", "JSONPATH", "contents.a.value", "$.["}},
		{"time constant", "time", []string{"time", "tomorrow"}},
		{"time out of range", "time", []string{"time", "99999999999"}},
		{"topic and form", "topic.form", []string{"topic", "a", "topic.form", "ORIGINAL"}},
		{"buckets not power of two", "hash.buckets", []string{"hash.buckets", "3"}},
		{"buckets too many", "hash.buckets", []string{"hash.buckets", "512"}},
		{"compression", "compression", []string{"compression", "gzip"}},
		{"batch.count", "batch.count", []string{"batch.count", "4097"}},
		{"batch.bytes", "batch.bytes", []string{"batch.bytes", "6000000"}},
		{"parallelism", "send.parallelism", []string{"send.parallelism", "0"}},
		{"timeout", "request.timeout", []string{"request.timeout", "0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := newSink(t, b.config("ferry-p", "events", tc.kv...))
			var ve *api.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a validation error", err)
			}
			for _, f := range ve.Fields {
				if f.Field == tc.field {
					return
				}
			}
			t.Fatalf("error %v does not name %s", err, tc.field)
		})
	}
	tooMany := []string{"contents", "map"}
	for i := range 129 {
		tooMany = append(tooMany, "contents.k"+itoa(int64(i)), "v")
	}
	if _, err := newSink(t, b.config("ferry-p", "events", tooMany...)); err == nil || !strings.Contains(err.Error(), "at most 128") {
		t.Errorf("129 mapped keys: %v", err)
	}
}
