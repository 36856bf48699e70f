package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	ferryhttp "github.com/ferryhq/ferry/connectors/http"
)

// received is one request an endpoint got.
type received struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	At     time.Time
	Status int // what the endpoint answered
}

// id is the event id a single-event request carries: the ce-id header in
// binary mode, else the structured body's id.
func (r *received) id() string {
	if id := r.Header.Get("Ce-Id"); id != "" {
		return id
	}
	var ev struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(r.Body, &ev)
	return ev.ID
}

// answer is what an endpoint replies.
type answer struct {
	status int
	header map[string]string
	body   string
}

// endpoint is a test HTTP server that records every request and answers
// as its script says (200 when the script is nil).
type endpoint struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []received
	script func(r *received, attempt int) answer // attempt counts requests with the same id, from 0
	tries  map[string]int
}

func newEndpoint(t testing.TB, script func(r *received, attempt int) answer) *endpoint {
	e := &endpoint{script: script, tries: map[string]int{}}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := received{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, At: time.Now()}
	e.mu.Lock()
	id := rec.id()
	attempt := e.tries[id]
	e.tries[id]++
	script := e.script
	e.mu.Unlock()
	a := answer{status: 200}
	if script != nil {
		a = script(&rec, attempt)
	}
	rec.Status = a.status
	e.mu.Lock()
	e.reqs = append(e.reqs, rec)
	e.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (e *endpoint) requests() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.reqs...)
}

// openSink parses cfg, runs the plugin's validation, builds and opens an
// http sink; it is closed when the test ends.
func openSink(t testing.TB, cfg map[string]string, log *slog.Logger) api.Sink {
	t.Helper()
	s, err := buildSink(cfg, log, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(context.Background()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func buildSink(cfg map[string]string, log *slog.Logger, tasks int) (api.Sink, error) {
	c, err := ferryhttp.Sink.Spec.Parse(cfg)
	if err != nil {
		return nil, err
	}
	if err := ferryhttp.Sink.Validate(c); err != nil {
		return nil, err
	}
	if log == nil {
		log = quiet
	}
	return ferryhttp.Sink.New(api.TaskConfig{Connector: "out", Tasks: tasks, Config: c, Logger: log})
}

func TestSinkConformance(t *testing.T) {
	ep := newEndpoint(t, nil)
	apitest.RunSink(t, apitest.SinkCase{
		Plugin: ferryhttp.Sink,
		Config: map[string]string{"url": ep.srv.URL + "/events", "max.in.flight": "4"},
		ReadBack: func(t testing.TB) []api.Event {
			var out []api.Event
			for _, r := range ep.requests() {
				var ev api.Event
				if err := ev.UnmarshalJSON(r.Body); err != nil {
					t.Fatalf("request body is not a structured event: %v: %s", err, r.Body)
				}
				out = append(out, ev)
			}
			return out
		},
	})
}

func TestSinkDocumentsSpec(t *testing.T) {
	t.Parallel()
	apitest.CheckSpecDoc(t, "sink.go", ferryhttp.Sink.Spec)
}

// TestSinkModes: each body mode's request, one event at a time.
func TestSinkModes(t *testing.T) {
	t.Parallel()
	ev := api.Event{ID: "e-1", Source: "/shop", SpecVersion: "1.0", Type: "order.created", Subject: "o 1",
		DataContentType: "application/json", Data: []byte(`{"id":7,"sku":"a\"b"}`), Extensions: map[string]any{"tenant": "acme"}}
	tests := []struct {
		name   string
		cfg    map[string]string
		method string
		ct     string
		body   string
		header map[string]string
	}{
		{"structured", nil, "POST", "application/cloudevents+json; charset=UTF-8",
			`{"specversion":"1.0","id":"e-1","source":"/shop","type":"order.created","subject":"o 1","datacontenttype":"application/json","tenant":"acme","data":{"id":7,"sku":"a\"b"}}`, nil},
		{"binary", map[string]string{"body": "binary", "method": "PUT"}, "PUT", "application/json", `{"id":7,"sku":"a\"b"}`,
			map[string]string{"Ce-Id": "e-1", "Ce-Source": "/shop", "Ce-Subject": "o%201", "Ce-Tenant": "acme", "Ce-Specversion": "1.0"}},
		{"data", map[string]string{"body": "data", "method": "PATCH"}, "PATCH", "application/json", `{"id":7,"sku":"a\"b"}`,
			map[string]string{"Ce-Id": ""}},
		{"template json", map[string]string{"body": "template", "body.form": "TEMPLATE", "body.value": `{"id":"$.data.id","t":"$.type"}`,
			"body.template": `{"order":${id},"kind":"${t}"}`}, "POST", "application/json", `{"order":7,"kind":"order.created"}`, nil},
		{"template text", map[string]string{"body": "template", "body.form": "JSONPATH", "body.value": "$.data.sku"}, "POST",
			"text/plain; charset=utf-8", `a"b`, nil},
		{"get", map[string]string{"method": "GET", "body": "binary"}, "GET", "", "", map[string]string{"Ce-Id": "e-1"}},
		{"delete", map[string]string{"method": "DELETE"}, "DELETE", "", "", nil},
		{"user content type wins", map[string]string{"body": "data", "headers.Content-Type": "application/vnd.shop+json"}, "POST",
			"application/vnd.shop+json", `{"id":7,"sku":"a\"b"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ep := newEndpoint(t, nil)
			cfg := map[string]string{"url": ep.srv.URL + "/in"}
			for k, v := range tt.cfg {
				cfg[k] = v
			}
			s := openSink(t, cfg, nil)
			if err := s.Write(context.Background(), []api.Record{{Event: ev}}); err != nil {
				t.Fatal(err)
			}
			reqs := ep.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.Header.Get("Content-Type") != tt.ct || string(r.Body) != tt.body {
				t.Errorf("got %s, Content-Type %q, body %s; want %s %q %s", r.Method, r.Header.Get("Content-Type"), r.Body, tt.method, tt.ct, tt.body)
			}
			for k, v := range tt.header {
				if got := r.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestSinkTargetFromEvent: the URL, headers and query come from the event
// through templates; an event that makes one of them invalid is rejected
// alone, and hostile values cannot split a request or change its scheme.
func TestSinkTargetFromEvent(t *testing.T) {
	t.Parallel()
	ep := newEndpoint(t, nil)
	s := openSink(t, map[string]string{
		"url.form":          "TEMPLATE",
		"url.value":         `{"tenant":"$.data.tenant","base":"$.data.base"}`,
		"url.template":      "${base}/tenants/${tenant}/orders",
		"vars":              `{"id":"$.id","prio":"$.data.prio","tenant":"$.data.tenant"}`,
		"headers.X-Order":   "${id}",
		"headers.X-Tag":     "order-${id}/${prio}",
		"headers.X-Static":  "yes",
		"query.tenant":      "${tenant}",
		"query.v":           "2",
		"headers.X-Missing": "${prio}",
	}, nil)
	base := ep.srv.URL
	rec := func(id, data string) api.Record {
		return api.Record{Event: api.Event{ID: id, Source: "/s", Type: "t", DataContentType: "application/json", Data: []byte(data)}}
	}
	records := []api.Record{
		rec("a", `{"tenant":"acme","prio":3,"base":"`+base+`"}`),
		rec("b", `{"tenant":"x y&z","base":"`+base+`"}`),
		rec("c", `{"tenant":"acme","prio":"1\r\nX-Evil: 1","base":"`+base+`"}`),
		rec("d", `{"tenant":"acme","base":"file:///etc"}`),
		rec("e", `{"tenant":"acme","base":"http://user:pw@127.0.0.1:1"}`),
		rec("f", `{"tenant":"acme","base":"`+base+`","prio":"`+strings.Repeat("p", 9000)+`"}`),
	}
	err := s.Write(context.Background(), records)
	var re *api.RecordErrors
	if !errors.As(err, &re) {
		t.Fatalf("Write = %v, want the three bad records rejected", err)
	}
	var rejected []int
	for _, e := range *re {
		rejected = append(rejected, e.Index)
		if !api.IsFatal(e.Err) {
			t.Errorf("record %d: %v is not a rejection", e.Index, e.Err)
		}
	}
	if fmt.Sprint(rejected) != "[2 3 4 5]" {
		t.Fatalf("rejected %v (%v), want [2 3 4 5]", rejected, err)
	}
	if strings.Contains(err.Error(), "pw@") {
		t.Errorf("error shows the URL's password: %v", err)
	}
	reqs := ep.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	want := []struct{ path, query, order, tag, missing string }{
		{"/tenants/acme/orders", "tenant=acme&v=2", "a", "order-a/3", "3"},
		{"/tenants/x y&z/orders", "tenant=x+y%26z&v=2", "b", "order-b/", ""},
	}
	for i, w := range want {
		r := reqs[i]
		if r.Path != w.path || r.Query != w.query || r.Header.Get("X-Order") != w.order || r.Header.Get("X-Tag") != w.tag ||
			r.Header.Get("X-Static") != "yes" || r.Header.Get("X-Missing") != w.missing {
			t.Errorf("request %d: path %q query %q headers %v; want %+v", i, r.Path, r.Query, r.Header, w)
		}
		if _, ok := r.Header["X-Missing"]; w.missing == "" && ok {
			t.Errorf("request %d: an empty header value was sent", i)
		}
	}
}

// TestSinkResponseClasses: one record per scripted answer, with the
// default classes and with retry.on / drop.on overriding them.
func TestSinkResponseClasses(t *testing.T) {
	t.Parallel()
	other := newEndpoint(t, nil)
	tests := []struct {
		name   string
		cfg    map[string]string
		answer answer
		want   string // written, retry, reject
	}{
		{"200", nil, answer{status: 200}, "written"},
		{"201", nil, answer{status: 201}, "written"},
		{"204", nil, answer{status: 204}, "written"},
		{"400", nil, answer{status: 400, body: `{"error":"bad sku"}`}, "reject"},
		{"404", nil, answer{status: 404}, "reject"},
		{"408", nil, answer{status: 408}, "retry"},
		{"409", nil, answer{status: 409}, "reject"},
		{"409 retried", map[string]string{"retry.on": "409"}, answer{status: 409}, "retry"},
		{"425", nil, answer{status: 425}, "retry"},
		{"429", nil, answer{status: 429}, "retry"},
		{"500", nil, answer{status: 500}, "retry"},
		{"503", nil, answer{status: 503}, "retry"},
		{"503 dropped", map[string]string{"drop.on": "501-503"}, answer{status: 503}, "reject"},
		{"4xx retried", map[string]string{"retry.on": "4xx"}, answer{status: 418}, "retry"},
		{"302 not followed", nil, answer{status: 302, header: map[string]string{"Location": other.srv.URL}}, "reject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ep := newEndpoint(t, func(*received, int) answer { return tt.answer })
			cfg := map[string]string{"url": ep.srv.URL}
			for k, v := range tt.cfg {
				cfg[k] = v
			}
			s := openSink(t, cfg, nil)
			err := s.Write(context.Background(), apitest.Records("c", 1))
			var re *api.RecordErrors
			switch tt.want {
			case "written":
				if err != nil {
					t.Fatalf("Write = %v", err)
				}
			case "reject":
				if !errors.As(err, &re) || len(*re) != 1 || !api.IsFatal((*re)[0].Err) {
					t.Fatalf("Write = %v, want the record rejected", err)
				}
				var se *ferryhttp.StatusError
				if !errors.As((*re)[0].Err, &se) || se.Code != tt.answer.status {
					t.Fatalf("rejection %v carries no status %d", err, tt.answer.status)
				}
				if tt.answer.body != "" && !strings.Contains(err.Error(), `bad sku`) {
					t.Errorf("rejection %v lacks the answer's body", err)
				}
			case "retry":
				if err == nil || errors.As(err, &re) || api.IsFatal(err) || !api.IsRetryable(err) {
					t.Fatalf("Write = %v, want a retryable error", err)
				}
			}
			if n := len(other.requests()); n != 0 {
				t.Errorf("the redirect was followed (%d requests)", n)
			}
		})
	}
}

// TestSinkNetworkErrors: a refused connection and a server slower than
// timeout.ms are retryable, and the error does not show the query.
func TestSinkNetworkErrors(t *testing.T) {
	t.Parallel()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	slow := newEndpoint(t, func(*received, int) answer { time.Sleep(500 * time.Millisecond); return answer{status: 200} })
	for name, cfg := range map[string]map[string]string{
		"refused": {"url": closed.URL + "/x?sig=abcdef"},
		"timeout": {"url": slow.srv.URL + "/x?sig=abcdef", "timeout.ms": "50"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := openSink(t, cfg, nil)
			start := time.Now()
			err := s.Write(context.Background(), apitest.Records("n", 1))
			if err == nil || !api.IsRetryable(err) || api.IsFatal(err) {
				t.Fatalf("Write = %v, want retryable", err)
			}
			if strings.Contains(err.Error(), "abcdef") {
				t.Errorf("error shows the query: %v", err)
			}
			if time.Since(start) > 400*time.Millisecond {
				t.Errorf("Write took %v; timeout.ms is 50", time.Since(start))
			}
		})
	}
}

// TestSinkRetrySkipsDelivered: after a transient failure the engine writes
// the same batch again; what was delivered is not sent twice, and a key's
// records keep their order.
func TestSinkRetrySkipsDelivered(t *testing.T) {
	t.Parallel()
	ep := newEndpoint(t, func(r *received, attempt int) answer {
		if r.id() == "r-5" && attempt == 0 {
			return answer{status: 503, header: map[string]string{"Retry-After": "2"}}
		}
		return answer{status: 200}
	})
	s := openSink(t, map[string]string{"url": ep.srv.URL, "max.in.flight": "3"}, nil)
	recs := apitest.Records("r", 12)
	for i := range recs {
		recs[i].Key = []byte{byte('a' + i%3)}
	}
	err := s.Write(context.Background(), recs)
	if !api.IsRetryable(err) || api.BackoffHint(err) != 2*time.Second {
		t.Fatalf("Write = %v (hint %v), want retryable after 2s", err, api.BackoffHint(err))
	}
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	var keyC []string // key c: records 2, 5, 8, 11
	for _, r := range ep.requests() {
		count[r.id()]++
		if id := r.id(); id == "r-2" || id == "r-5" || id == "r-8" || id == "r-11" {
			keyC = append(keyC, id)
		}
	}
	for i := range recs {
		id := recs[i].Event.ID
		want := 1
		if id == "r-5" {
			want = 2
		}
		if count[id] != want {
			t.Errorf("%s sent %d times, want %d", id, count[id], want)
		}
	}
	if got := strings.Join(keyC, ","); got != "r-2,r-5,r-5,r-8,r-11" {
		t.Errorf("key c arrived as %s; want r-2,r-5 (503),r-5,r-8,r-11", got)
	}
}

// TestSinkPerKeyOrder: with max.in.flight 8 requests do overlap, yet each
// key's records arrive in the order written.
func TestSinkPerKeyOrder(t *testing.T) {
	t.Parallel()
	var inflight, peak atomic.Int64
	ep := newEndpoint(t, func(r *received, _ int) answer {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Duration(len(r.Body)%3) * time.Millisecond)
		return answer{status: 200}
	})
	s := openSink(t, map[string]string{"url": ep.srv.URL, "max.in.flight": "8"}, nil)
	recs := apitest.Records("k", 400)
	for i := range recs {
		recs[i].Key = []byte("key-" + strconv.Itoa(i%16))
	}
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	last := map[string]int{}
	n := 0
	for _, r := range ep.requests() {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.id(), "k-"))
		key := "key-" + strconv.Itoa(i%16)
		if prev, ok := last[key]; ok && prev > i {
			t.Fatalf("%s: record %d arrived after %d", key, i, prev)
		}
		last[key] = i
		n++
	}
	if n != 400 {
		t.Fatalf("%d requests, want 400", n)
	}
	if peak.Load() < 2 {
		t.Errorf("at most %d requests in flight; max.in.flight is 8", peak.Load())
	}
	t.Logf("peak in flight: %d", peak.Load())
}

// TestSinkRateLimit: rate.limit is per connector, split among its tasks.
func TestSinkRateLimit(t *testing.T) {
	t.Parallel()
	ep := newEndpoint(t, nil)
	s, err := buildSink(map[string]string{"url": ep.srv.URL, "rate.limit": "40", "max.in.flight": "4"}, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	start := time.Now()
	if err := s.Write(context.Background(), apitest.Records("rl", 11)); err != nil {
		t.Fatal(err)
	}
	// 20 requests/s for this task: 11 requests span at least 10 intervals.
	if d := time.Since(start); d < 480*time.Millisecond || d > 3*time.Second {
		t.Fatalf("11 requests at 20/s took %v, want about 500ms", d)
	}
}

// TestSinkSpecHostile: every bounded setting refuses values out of bounds
// and the combinations that cannot work, naming the key.
func TestSinkSpecHostile(t *testing.T) {
	t.Parallel()
	base := func(kv ...string) map[string]string {
		m := map[string]string{"url": "https://example.com/in"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<unset>" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name  string
		cfg   map[string]string
		field string // "" means valid
	}{
		{"minimal", base(), ""},
		{"no url", base("url", "<unset>"), "url"},
		{"ftp url", base("url", "ftp://example.com/"), "url"},
		{"file url", base("url", "file:///etc/passwd"), "url"},
		{"javascript url", base("url", "javascript:alert(1)"), "url"},
		{"url without host", base("url", "http:///x"), "url"},
		{"url with password", base("url", "https://u:p@example.com/"), "url"},
		{"huge url", base("url", "https://example.com/"+strings.Repeat("a", 9000)), "url"},
		{"constant url via form", base("url", "<unset>", "url.form", "CONSTANT", "url.value", "gopher://x"), "url.value"},
		{"url and url.form", base("url.form", "JSONPATH", "url.value", "$.data.u"), "url.form"},
		{"bad method", base("method", "CONNECT"), "method"},
		{"lowercase method", base("method", "post"), "method"},
		{"timeout zero", base("timeout.ms", "0"), "timeout.ms"},
		{"timeout negative", base("timeout.ms", "-1"), "timeout.ms"},
		{"timeout huge", base("timeout.ms", "99999999999"), "timeout.ms"},
		{"in flight zero", base("max.in.flight", "0"), "max.in.flight"},
		{"in flight huge", base("max.in.flight", "100000"), "max.in.flight"},
		{"rate negative", base("rate.limit", "-1"), "rate.limit"},
		{"rate NaN", base("rate.limit", "NaN"), "rate.limit"},
		{"rate Inf", base("rate.limit", "+Inf"), "rate.limit"},
		{"rate huge", base("rate.limit", "1e9"), "rate.limit"},
		{"batch records zero", base("batch", "json-array", "batch.max.records", "0"), "batch.max.records"},
		{"batch records huge", base("batch.max.records", "1000000"), "batch.max.records"},
		{"batch bytes small", base("batch.max.bytes", "10"), "batch.max.bytes"},
		{"batch bytes huge", base("batch.max.bytes", "1099511627776"), "batch.max.bytes"},
		{"unknown batch", base("batch", "ndjson"), "batch"},
		{"batch binary", base("batch", "json-array", "body", "binary"), "batch"},
		{"ce batch of data", base("batch", "cloudevents-batch", "body", "data"), "batch"},
		{"batch GET", base("batch", "json-array", "method", "GET"), "batch"},
		{"retry after huge", base("retry.after.max.ms", "86400001"), "retry.after.max.ms"},
		{"retry.on 600", base("retry.on", "600"), "retry.on"},
		{"retry.on garbage", base("retry.on", "5xx,abc"), "retry.on"},
		{"retry.on reversed", base("retry.on", "504-500"), "retry.on"},
		{"retry.on too many", base("retry.on", strings.Repeat("500,", 40)), "retry.on"},
		{"drop overlaps retry", base("retry.on", "4xx", "drop.on", "404"), "drop.on"},
		{"header name with space", base("headers.X Bad", "v"), "headers.X Bad"},
		{"header name with colon", base("headers.X:Y", "v"), "headers.X:Y"},
		{"header value CRLF", base("headers.X-A", "a\r\nX-Evil: 1"), "headers.X-A"},
		{"header value NUL", base("headers.X-A", "a\x00"), "headers.X-A"},
		{"header value huge", base("headers.X-A", strings.Repeat("v", 9000)), "headers.X-A"},
		{"header Authorization", base("headers.authorization", "Bearer x"), "headers.authorization"},
		{"header Host", base("headers.Host", "evil"), "headers.Host"},
		{"header Content-Length", base("headers.Content-Length", "1"), "headers.Content-Length"},
		{"header twice", base("headers.X-A", "1", "headers.x-a", "2"), "headers.X-A"},
		{"header unknown var", base("headers.X-A", "${nope}"), "headers.X-A"},
		{"header bad template", base("headers.X-A", "${unterminated"), "headers.X-A"},
		{"query empty name", base("query.", "v"), "query."},
		{"query huge", base("query.q", strings.Repeat("v", 9000)), "query.q"},
		{"vars not object", base("vars", `["$.id"]`), "vars"},
		{"vars bad path", base("vars", `{"a":"$.[["}`), "vars"},
		{"body template without form", base("body", "template"), "body.form"},
		{"body form without template", base("body.form", "ORIGINAL"), "body"},
		{"body bad", base("body", "xml"), "body"},
		{"basic without password", base("auth", "basic", "auth.username", "u"), "auth.password"},
		{"basic colon user", base("auth", "basic", "auth.username", "u:v", "auth.password", "p"), "auth.username"},
		{"password without basic", base("auth.password", "p"), "auth.password"},
		{"api key without header", base("auth", "api-key", "auth.value", "k"), "auth.header"},
		{"api key bad header", base("auth", "api-key", "auth.header", "X Key", "auth.value", "k"), "auth.header"},
		{"api key Host header", base("auth", "api-key", "auth.header", "Host", "auth.value", "k"), "auth.header"},
		{"api key value CRLF", base("auth", "api-key", "auth.header", "X-Key", "auth.value", "k\r\nX: 1"), "auth.value"},
		{"api key also in headers", base("auth", "api-key", "auth.header", "X-Key", "auth.value", "k", "headers.x-key", "v"), "headers.X-Key"},
		{"api key in Authorization", base("auth", "api-key", "auth.header", "Authorization", "auth.value", "Token k"), ""},
		{"oauth2 missing secret", base("auth", "oauth2", "auth.token.url", "https://idp/token", "auth.client.id", "c"), "auth.client.secret"},
		{"oauth2 ftp token url", base("auth", "oauth2", "auth.token.url", "ftp://idp/token", "auth.client.id", "c", "auth.client.secret", "s"), "auth.token.url"},
		{"oauth2 form grant_type", base("auth", "oauth2", "auth.token.url", "https://idp/token", "auth.client.id", "c", "auth.client.secret", "s",
			"auth.token.form.grant_type", "password"), "auth.token.form.grant_type"},
		{"oauth2 extra header CRLF", base("auth", "oauth2", "auth.token.url", "https://idp/token", "auth.client.id", "c", "auth.client.secret", "s",
			"auth.token.headers.X-A", "a\nb"), "auth.token.headers.X-A"},
		{"oauth2 scope huge", base("auth", "oauth2", "auth.token.url", "https://idp/token", "auth.client.id", "c", "auth.client.secret", "s",
			"auth.scope", strings.Repeat("s", 5000)), "auth.scope"},
		{"token extras without oauth2", base("auth.token.form.audience", "x"), "auth.token.form.audience"},
		{"oauth2 ok", base("auth", "oauth2", "auth.token.url", "https://idp/token", "auth.client.id", "c", "auth.client.secret", "s",
			"auth.scope", "a b", "auth.token.form.audience", "api", "auth.token.headers.X-Tenant", "t"), ""},
		{"cert without key", base("tls.cert.file", "/x.pem"), "tls.cert.file"},
		{"skip verify not bool", base("tls.insecure.skip.verify", "yes"), "tls.insecure.skip.verify"},
	}
	many := base()
	for i := range 65 {
		many["headers.X-H"+strconv.Itoa(i)] = "v"
	}
	tests = append(tests, struct {
		name  string
		cfg   map[string]string
		field string
	}{"65 headers", many, "headers.X-H9"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ferryhttp.Sink.Spec.Parse(tt.cfg)
			if err == nil {
				err = ferryhttp.Sink.Validate(c)
			}
			if tt.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ve *api.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("accepted (%v); want %s refused", err, tt.field)
			}
			for _, f := range ve.Fields {
				if f.Field == tt.field {
					return
				}
			}
			t.Fatalf("refused %v, not naming %s", err, tt.field)
		})
	}
}

// TestSinkTLS: the CA file verifies the server; without it the system
// roots refuse a test certificate; skip-verify is off by default.
func TestSinkTLS(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	caFile := t.TempDir() + "/ca.pem"
	writePEM(t, caFile, srv.Certificate().Raw)

	s := openSink(t, map[string]string{"url": srv.URL}, nil)
	err := s.Write(context.Background(), apitest.Records("tls", 1))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: %v, want a certificate error", err)
	}
	s = openSink(t, map[string]string{"url": srv.URL, "tls.ca.file": caFile}, nil)
	if err := s.Write(context.Background(), apitest.Records("tls", 1)); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	s = openSink(t, map[string]string{"url": srv.URL, "tls.insecure.skip.verify": "true"}, nil)
	if err := s.Write(context.Background(), apitest.Records("tls", 1)); err != nil {
		t.Fatalf("skip verify: %v", err)
	}
	if hits.Load() != 2 {
		t.Fatalf("%d requests reached the server, want 2", hits.Load())
	}
	if _, err := buildSink(map[string]string{"url": srv.URL, "tls.ca.file": t.TempDir() + "/missing.pem"}, nil, 1); err == nil || !api.IsFatal(err) {
		t.Fatalf("a missing CA file: %v, want a fatal error", err)
	}
}

// capture is a slog handler's output, for grepping log lines.
type capture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *capture) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func writePEM(t testing.TB, path string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
