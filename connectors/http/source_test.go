package http_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	ferryhttp "github.com/ferryhq/ferry/connectors/http"
)

type addresser interface{ Addr() string }

var quiet = slog.New(slog.DiscardHandler)

// client never keeps connections, so no transport goroutine outlives a
// request and the kit's leak check stays exact.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// push sends n plain JSON requests at once; each returns when the kit
// has acknowledged its event.
func push(t testing.TB, src api.Source, n int) {
	url := "http://" + src.(addresser).Addr() + "/hook"
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	for i := range n {
		wg.Go(func() {
			resp, err := client.Post(url, "application/json", strings.NewReader(`{"n":`+strconv.Itoa(i)+`}`))
			if err != nil {
				t.Errorf("POST %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Errorf("POST %d: %s %s", i, resp.Status, b)
			}
		})
	}
}

func TestConformance(t *testing.T) {
	apitest.RunSource(t, apitest.SourceCase{
		Plugin: ferryhttp.Source,
		Config: map[string]string{"listen": "127.0.0.1:0", "path": "/hook", "batch.size": "3"},
		Expect: 12,
		Push:   push,
	})
}

// server is an opened http source with a reader goroutine standing in
// for the engine: it reads and, unless hold is set, acknowledges at once.
type server struct {
	src  api.Source
	url  string
	recs chan api.Record
}

func start(t *testing.T, cfg map[string]string, ackAll bool) *server {
	t.Helper()
	full := map[string]string{"listen": "127.0.0.1:0"}
	for k, v := range cfg {
		full[k] = v
	}
	c, err := ferryhttp.Source.Spec.Parse(full)
	if err != nil {
		t.Fatal(err)
	}
	src, err := ferryhttp.Source.New(api.TaskConfig{Connector: "hook", Task: 0, Tasks: 1, Config: c, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := &server{src: src, url: "http://" + src.(addresser).Addr(), recs: make(chan api.Record, 1000)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			batch, err := src.Read(ctx)
			if err != nil {
				return
			}
			for _, r := range batch {
				s.recs <- r
			}
			if ackAll {
				last := batch[len(batch)-1]
				_ = src.(api.Acker).Ack(ctx, last.Partition, last.Position)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := src.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

type request struct {
	method  string
	path    string
	headers map[string]string
	body    string
}

// do sends rq and returns the status and body. It may run on any
// goroutine, so it reports failures with Errorf and returns status 0.
func (s *server) do(t *testing.T, rq request) (int, string) {
	t.Helper()
	if rq.method == "" {
		rq.method = http.MethodPost
	}
	if rq.path == "" {
		rq.path = "/"
	}
	req, err := http.NewRequest(rq.method, s.url+rq.path, strings.NewReader(rq.body))
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	for k, v := range rq.headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRequests(t *testing.T) {
	t.Parallel()
	ce := `{"specversion":"1.0","id":"e1","source":"/src","type":"t.v1","data":{"a":1}}`
	tests := []struct {
		name     string
		cfg      map[string]string
		req      request
		want     int
		wantIDs  []string // events delivered, in order; "plain" for a generated id
		wantType string
	}{
		{name: "plain json", req: request{body: `{"a":1}`, headers: map[string]string{"Content-Type": "application/json"}},
			want: 200, wantIDs: []string{"plain"}, wantType: ferryhttp.PlainType},
		{name: "plain without content type", req: request{body: `[1,2]`}, want: 200, wantIDs: []string{"plain"}},
		{name: "structured", req: request{body: ce, headers: map[string]string{"Content-Type": "application/cloudevents+json; charset=utf-8"}},
			want: 200, wantIDs: []string{"e1"}, wantType: "t.v1"},
		{name: "batch", req: request{body: "[" + ce + "," + strings.Replace(ce, "e1", "e2", 1) + "]",
			headers: map[string]string{"Content-Type": "application/cloudevents-batch+json"}},
			want: 200, wantIDs: []string{"e1", "e2"}},
		{name: "empty batch", req: request{body: "[]", headers: map[string]string{"Content-Type": "application/cloudevents-batch+json"}}, want: 200},
		{name: "binary", req: request{body: "hello", headers: map[string]string{"Content-Type": "text/plain",
			"ce-specversion": "1.0", "ce-id": "b1", "ce-source": "/s", "ce-type": "bin.v1", "ce-myext": "a%20b"}},
			want: 200, wantIDs: []string{"b1"}, wantType: "bin.v1"},
		{name: "binary missing id", req: request{body: "{}", headers: map[string]string{"ce-specversion": "1.0", "ce-source": "/s", "ce-type": "t"}}, want: 400},
		{name: "malformed json", req: request{body: `{"a":`, headers: map[string]string{"Content-Type": "application/json"}}, want: 400},
		{name: "malformed structured", req: request{body: `{"id":"x"}`, headers: map[string]string{"Content-Type": "application/cloudevents+json"}}, want: 400},
		{name: "unsupported type", req: request{body: "a=b", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, want: 415},
		{name: "wrong method", req: request{method: http.MethodPut, body: "{}"}, want: 405},
		{name: "allowed method", cfg: map[string]string{"allowed.methods": "POST,PUT"}, req: request{method: http.MethodPut, body: "{}"},
			want: 200, wantIDs: []string{"plain"}},
		{name: "wrong path", cfg: map[string]string{"path": "/hook"}, req: request{path: "/other", body: "{}"}, want: 404},
		{name: "too large", cfg: map[string]string{"max.body.bytes": "10"}, req: request{body: `{"a":"0123456789"}`}, want: 413},
		{name: "cidr allowed", cfg: map[string]string{"allowed.cidrs": "10.0.0.0/8, 127.0.0.0/8"}, req: request{body: "{}"},
			want: 200, wantIDs: []string{"plain"}},
		{name: "cidr refused", cfg: map[string]string{"allowed.cidrs": "10.0.0.0/8,192.168.1.1"}, req: request{body: "{}"}, want: 403},
		{name: "referer subdomain", cfg: map[string]string{"allowed.referers": "example.com"},
			req: request{body: "{}", headers: map[string]string{"Referer": "https://shop.Example.com:8443/cart"}}, want: 200, wantIDs: []string{"plain"}},
		{name: "referer lookalike", cfg: map[string]string{"allowed.referers": "example.com"},
			req: request{body: "{}", headers: map[string]string{"Referer": "https://badexample.com/"}}, want: 403},
		{name: "referer missing", cfg: map[string]string{"allowed.referers": "example.com"}, req: request{body: "{}"}, want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, tt.cfg, true)
			status, body := s.do(t, tt.req)
			if status != tt.want {
				t.Fatalf("status %d (%s), want %d", status, body, tt.want)
			}
			if status != 200 {
				var e struct {
					ErrorCode int    `json:"error_code"`
					Message   string `json:"message"`
				}
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.ErrorCode != status || e.Message == "" {
					t.Errorf("error body %q is not {error_code, message}", body)
				}
			} else if want := `{"accepted":` + strconv.Itoa(len(tt.wantIDs)) + "}\n"; body != want {
				t.Errorf("body %q, want %q", body, want)
			}
			for i, want := range tt.wantIDs {
				r := <-s.recs
				if want == "plain" {
					want = "hook-0-" + string(r.Position)
				}
				if r.Event.ID != want || r.Partition != ferryhttp.Partition {
					t.Errorf("event %d: id %q partition %q, want id %q", i, r.Event.ID, r.Partition, want)
				}
				if tt.wantType != "" && r.Event.Type != tt.wantType {
					t.Errorf("event %d: type %q, want %q", i, r.Event.Type, tt.wantType)
				}
				if _, err := r.Event.AppendJSON(nil); err != nil {
					t.Errorf("event %d does not encode: %v", i, err)
				}
			}
			select {
			case r := <-s.recs:
				t.Errorf("unexpected extra event %q", r.Event.ID)
			default:
			}
		})
	}
}

func TestBinaryAttributes(t *testing.T) {
	t.Parallel()
	s := start(t, nil, true)
	status, body := s.do(t, request{body: `{"x":1}`, headers: map[string]string{
		"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": "i", "ce-source": "/s%2Fx", "ce-type": "t",
		"ce-subject": "sub", "ce-time": "2026-01-02T03:04:05Z", "ce-traceid": "abc"}})
	if status != 200 {
		t.Fatalf("status %d %s", status, body)
	}
	e := (<-s.recs).Event
	if e.Source != "/s/x" || e.Subject != "sub" || e.Time.Year() != 2026 || e.Extensions["traceid"] != "abc" ||
		e.DataContentType != "application/json" || string(e.Data) != `{"x":1}` {
		t.Fatalf("event %+v", e)
	}
}

// TestAnswerWaitsForAck checks at-least-once: no 200 before Ack covers the
// request, 503 when Ack does not come in time.
func TestAnswerWaitsForAck(t *testing.T) {
	t.Parallel()
	s := start(t, map[string]string{"response.timeout": "300ms"}, false)
	type result struct {
		status int
		at     time.Time
	}
	results := make(chan result, 2)
	send := func() {
		st, _ := s.do(t, request{body: "{}"})
		results <- result{st, time.Now()}
	}
	go send()
	r1 := <-s.recs
	go send()
	r2 := <-s.recs

	// Acknowledging the first request answers it and only it.
	acked := time.Now()
	if err := s.src.(api.Acker).Ack(context.Background(), ferryhttp.Partition, r1.Position); err != nil {
		t.Fatal(err)
	}
	res := <-results
	if res.status != 200 || res.at.Before(acked) {
		t.Fatalf("first request answered %d before its ack", res.status)
	}
	// The second is never acknowledged: 503 after the timeout.
	res = <-results
	if res.status != http.StatusServiceUnavailable {
		t.Fatalf("unacknowledged request answered %d, want 503", res.status)
	}
	if p1, _ := strconv.ParseUint(string(r1.Position), 10, 64); string(r2.Position) != strconv.FormatUint(p1+1, 10) {
		t.Errorf("positions %s then %s are not consecutive", r1.Position, r2.Position)
	}
}

func TestQueueFull(t *testing.T) {
	t.Parallel()
	c, _ := ferryhttp.Source.Spec.Parse(map[string]string{"listen": "127.0.0.1:0", "queue.size": "2", "response.timeout": "300ms"})
	src, err := ferryhttp.Source.New(api.TaskConfig{Connector: "q", Config: c, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer src.Close(context.Background())
	s := &server{src: src, url: "http://" + src.(addresser).Addr()}
	// Nobody reads: two requests fill the queue and wait for a 503, the
	// third is refused at once, whatever order they arrive in.
	statuses := make(chan int, 3)
	for range 3 {
		go func() { st, _ := s.do(t, request{body: "{}"}); statuses <- st }()
	}
	count := map[int]int{}
	for range 3 {
		count[<-statuses]++
	}
	if count[http.StatusTooManyRequests] != 1 || count[http.StatusServiceUnavailable] != 2 {
		t.Fatalf("statuses %v; want one 429 and two 503", count)
	}
}

// TestCloseAnswersWaiting checks that a request waiting for its ack when
// the source closes is never told 200: a soft stop answers 503, a hard
// stop (Close with a ctx already done) may instead cut the connection.
// Either way the client retries.
func TestCloseAnswersWaiting(t *testing.T) {
	t.Parallel()
	for _, hard := range []bool{false, true} {
		t.Run("hard="+strconv.FormatBool(hard), func(t *testing.T) {
			t.Parallel()
			c, _ := ferryhttp.Source.Spec.Parse(map[string]string{"listen": "127.0.0.1:0"})
			src, _ := ferryhttp.Source.New(api.TaskConfig{Connector: "c", Config: c, Logger: quiet})
			if err := src.Open(context.Background()); err != nil {
				t.Fatal(err)
			}
			url := "http://" + src.(addresser).Addr()
			got := make(chan int, 1)
			go func() {
				resp, err := client.Post(url, "application/json", strings.NewReader("{}"))
				if err != nil {
					got <- 0
					return
				}
				resp.Body.Close()
				got <- resp.StatusCode
			}()
			if _, err := src.Read(context.Background()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if hard {
				cancel()
			}
			start := time.Now()
			if err := src.Close(ctx); err != nil {
				t.Fatal(err)
			}
			cancel()
			if d := time.Since(start); d > time.Second {
				t.Errorf("Close took %v", d)
			}
			st := <-got
			if st != http.StatusServiceUnavailable && (!hard || st != 0) {
				t.Fatalf("request waiting at Close got status %d, want 503", st)
			}
		})
	}
}

func TestResumeAfterCommitted(t *testing.T) {
	t.Parallel()
	c, _ := ferryhttp.Source.Spec.Parse(map[string]string{"listen": "127.0.0.1:0"})
	far := uint64(time.Now().Add(time.Hour).UnixMicro())
	src, err := ferryhttp.Source.New(api.TaskConfig{Connector: "c", Config: c, Logger: quiet,
		Committed: map[string]api.Position{ferryhttp.Partition: api.Position(strconv.FormatUint(far, 10))}})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer src.Close(context.Background())
	s := &server{src: src, url: "http://" + src.(addresser).Addr()}
	go s.do(t, request{body: "{}"})
	batch, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.FormatUint(far+1, 10); string(batch[0].Position) != want {
		t.Fatalf("first position after committed %d is %s, want %s", far, batch[0].Position, want)
	}
	_ = src.(api.Acker).Ack(context.Background(), ferryhttp.Partition, batch[0].Position)
}

func TestSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg map[string]string
		ok  bool
	}{
		{map[string]string{"listen": ":8080"}, true},
		{map[string]string{}, false},
		{map[string]string{"listen": "localhost"}, false},
		{map[string]string{"listen": ":1", "path": "hook"}, false},
		{map[string]string{"listen": ":1", "allowed.cidrs": "10.0.0.0/33"}, false},
		{map[string]string{"listen": ":1", "allowed.cidrs": "::1, 10.1.2.3"}, true},
		{map[string]string{"listen": ":1", "allowed.methods": "post"}, false},
	}
	for _, tt := range tests {
		if _, err := ferryhttp.Source.Spec.Parse(tt.cfg); (err == nil) != tt.ok {
			t.Errorf("Parse(%v) = %v, want ok=%v", tt.cfg, err, tt.ok)
		}
	}
	plan, err := ferryhttp.Source.Plan(api.Config{}, 4)
	if err != nil || len(plan) != 1 {
		t.Errorf("Plan for 4 tasks = %v, %v; want one task", plan, err)
	}
}

func TestDocumentsSpec(t *testing.T) {
	t.Parallel()
	apitest.CheckSpecDoc(t, "doc.go", ferryhttp.Source.Spec)
}
