package mns_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/mns"
	emu "github.com/ferryhq/ferry/internal/emulator/mns"
)

// TestConformance runs the connector kit's sink checks against the test
// bed's emulator, reading back with the SDK's consumer.
func TestConformance(t *testing.T) {
	b := testbedMNS(t)
	queue := b.Queue(t, "ferry-conformance", 0)
	var mu sync.Mutex
	var seen []api.Event
	apitest.RunSink(t, apitest.SinkCase{
		Plugin: mns.Sink,
		Config: b.config(queue),
		ReadBack: func(t testing.TB) []api.Event {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, events(t, b.Drain(t, queue))...)
			return seen
		},
	})
}

// TestGeneratorRoundTrip: generator events → sink → received and deleted
// with the SDK: every event once, bodies exactly as structured JSON.
func TestGeneratorRoundTrip(t *testing.T) {
	t.Parallel()
	b := testbedMNS(t)
	queue := b.Queue(t, "ferry-gen", 0)
	recs := generate(t, 1000, 300)
	s := open(t, b.config(queue))
	for lo := 0; lo < len(recs); lo += 256 { // engine-sized batches
		if err := write(s, recs[lo:min(lo+256, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
	got := events(t, b.Drain(t, queue))
	byID := map[string]api.Event{}
	for _, e := range got {
		if _, dup := byID[e.ID]; dup {
			t.Errorf("event %s received twice", e.ID)
		}
		byID[e.ID] = e
	}
	for _, r := range recs {
		e, ok := byID[r.Event.ID]
		if !ok {
			t.Errorf("event %s missing", r.Event.ID)
			continue
		}
		if string(e.Data) != string(r.Event.Data) || e.Source != r.Event.Source || e.Type != r.Event.Type {
			t.Errorf("event %s came back as %+v", r.Event.ID, e)
		}
	}
	if len(got) != len(recs) {
		t.Errorf("received %d messages, sent %d", len(got), len(recs))
	}
}

// hostileBodies are data that broke other MNS clients: XML specials,
// non-ASCII (Content-MD5 over UTF-8), CDATA's end, a CR.
var hostileBodies = []string{
	`a & b < c > d "e" 'f'`,
	`<xml><![CDATA[x]]></xml>]]>`,
	"中文 и ελληνικά 🚢",
	"line\r\nbreak\ttab",
	"&amp; is not &",
}

// TestBodiesIntact: with body=data, and base64 on or off, the bytes a
// consumer receives are the event's data exactly.
func TestBodiesIntact(t *testing.T) {
	t.Parallel()
	b := testbedMNS(t)
	for _, b64 := range []bool{true, false} {
		name := map[bool]string{true: "base64", false: "raw"}[b64]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			queue := b.Queue(t, "ferry-bodies-"+name, 0)
			cfg := b.config(queue, "body", "data")
			if !b64 {
				cfg["base64"] = "false"
			}
			hostileRoundTrip(t, b, open(t, cfg), queue, b64)
		})
	}
}

// hostileRoundTrip writes hostileBodies as data through s and checks that
// queue received each intact.
func hostileRoundTrip(t *testing.T, b bed, s api.Sink, queue string, b64 bool) {
	t.Helper()
	recs := make([]api.Record, len(hostileBodies))
	for i, body := range hostileBodies {
		recs[i] = textRecord(i, body)
	}
	if err := write(s, recs); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range b.Drain(t, queue) {
		body := m.MessageBody
		if b64 {
			raw, err := base64.StdEncoding.DecodeString(body)
			if err != nil {
				t.Fatalf("not base64: %q", body)
			}
			body = string(raw)
		}
		got[body] = true
	}
	for _, want := range hostileBodies {
		if !got[want] {
			t.Errorf("base64=%v: body %q not received intact; got %v", b64, want, got)
		}
	}
}

func textRecord(i int, data string) api.Record {
	return api.Record{Event: api.Event{ID: "t-" + string(rune('a'+i)), Source: "/test", Type: "t",
		SpecVersion: "1.0", DataContentType: "text/plain", Data: []byte(data)}}
}

// TestTemplateAndParams: the body rendered from a template, the priority
// and delay from the event, the queue from the event.
func TestTemplateAndParams(t *testing.T) {
	t.Parallel()
	b := testbedMNS(t)
	q1, q2 := b.Queue(t, "ferry-tmpl-a", 0), b.Queue(t, "ferry-tmpl-b", 0)
	s := open(t, b.config("", "queue.form", "JSONPATH", "queue.value", "$.data.q",
		"body.form", "TEMPLATE", "body.value", `{"id":"$.id","n":"$.data.n"}`, "body.template", `order ${id}: ${n} & more`,
		"base64", "false",
		"priority.form", "JSONPATH", "priority.value", "$.data.p",
		"delay.seconds", "0"))
	recs := []api.Record{
		jsonRecord("e1", `{"q":"`+q1+`","n":1,"p":3}`),
		jsonRecord("e2", `{"q":"`+q2+`","n":2,"p":16}`),
	}
	if err := write(s, recs); err != nil {
		t.Fatal(err)
	}
	m1, m2 := b.Drain(t, q1), b.Drain(t, q2)
	if len(m1) != 1 || m1[0].MessageBody != "order e1: 1 & more" || m1[0].Priority != 3 {
		t.Errorf("queue a got %+v", m1)
	}
	if len(m2) != 1 || m2[0].MessageBody != "order e2: 2 & more" || m2[0].Priority != 16 {
		t.Errorf("queue b got %+v", m2)
	}
}

func jsonRecord(id, data string) api.Record {
	return api.Record{Event: api.Event{ID: id, Source: "/test", Type: "t", SpecVersion: "1.0",
		DataContentType: "application/json", Data: []byte(data)}}
}

// TestRecordFaults: records that can never be sent are rejected alone,
// before any call; the rest are delivered.
func TestRecordFaults(t *testing.T) {
	t.Parallel()
	b := testbedMNS(t)
	queue := b.Queue(t, "ferry-faults", 0)
	s := open(t, b.config(queue, "body", "data", "base64", "false",
		"priority.form", "JSONPATH", "priority.value", "$.data.p"))
	recs := []api.Record{
		jsonRecord("ok-1", `{"p":1}`),
		jsonRecord("bad-priority", `{"p":17}`),
		jsonRecord("bad-priority-text", `{"p":"high"}`),
		{Event: api.Event{ID: "bad-xml", Source: "/t", Type: "t", SpecVersion: "1.0", DataContentType: "application/octet-stream", Data: []byte("ok\x01\xff"), Extensions: nil}},
		jsonRecord("too-big", `{"p":1,"pad":"`+strings.Repeat("x", 70000)+`"}`),
		jsonRecord("ok-2", `{"p":2}`),
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
			t.Errorf("record %d: %v is not marked fatal", e.Index, e.Err)
		}
	}
	if want := []int{1, 2, 3, 4}; !equalInts(idx, want) {
		t.Errorf("rejected %v (%v), want %v", idx, err, want)
	}
	if got := b.Drain(t, queue); len(got) != 2 {
		t.Errorf("received %d messages, want the 2 good ones", len(got))
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

// TestPartialBatchRefused: MNS refuses some messages of a batch (larger
// than the queue's MaximumMessageSize): exactly those are rejected, the
// others are stored once.
func TestPartialBatchRefused(t *testing.T) {
	t.Parallel()
	b := testbedMNS(t)
	queue := b.Queue(t, "ferry-partial", 1024)
	s := open(t, b.config(queue, "body", "data", "base64", "false"))
	var recs []api.Record
	for i := range 16 {
		data := `{"i":` + string(rune('0'+i%10)) + `}`
		if i%5 == 2 {
			data = `{"pad":"` + strings.Repeat("y", 2000) + `"}`
		}
		recs = append(recs, jsonRecord("p-"+string(rune('a'+i)), data))
	}
	err := write(s, recs)
	var re *api.RecordErrors
	if !errors.As(err, &re) {
		t.Fatalf("Write = %v, want record errors", err)
	}
	var idx []int
	for _, e := range *re {
		idx = append(idx, e.Index)
	}
	if want := []int{2, 7, 12}; !equalInts(idx, want) {
		t.Errorf("rejected %v, want %v: %v", idx, want, err)
	}
	if !strings.Contains(err.Error(), "InvalidArgument") {
		t.Errorf("rejection does not carry MNS's code: %v", err)
	}
	if got := b.Drain(t, queue); len(got) != 13 {
		t.Errorf("received %d messages, want 13", len(got))
	}
}

// TestPartialBatchTransient: MNS fails some messages of a batch with a
// transient code. Write is retryable; the engine's retry of the same batch
// sends only the failed ones, so every event arrives exactly once.
// The test bed's emulator never fails that way; a private one with
// Config.SendFault fails each message whose body says "flaky" once.
func TestPartialBatchTransient(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	failed := map[string]bool{}
	b := private(t, emu.Config{SendFault: func(_, body string) string {
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(body, "flaky") && !failed[body] {
			failed[body] = true
			return "InternalError"
		}
		return ""
	}})
	queue := b.Queue(t, "ferry-transient", 0)
	s := open(t, b.config(queue, "body", "data", "base64", "false", "send.parallelism", "1"))
	var recs []api.Record
	for i := range 40 {
		data := `{"i":"` + string(rune('A'+i)) + `"}`
		if i%7 == 3 {
			data = `{"i":"` + string(rune('A'+i)) + `","flaky":true}`
		}
		recs = append(recs, jsonRecord("t-"+string(rune('A'+i)), data))
	}
	err := write(s, recs)
	if err == nil || !api.IsRetryable(err) || api.IsFatal(err) || !strings.Contains(err.Error(), "InternalError") {
		t.Fatalf("first Write = %v, want a retryable error naming InternalError", err)
	}
	var re *api.RecordErrors
	if errors.As(err, &re) {
		t.Fatalf("a transient failure must not reject records: %v", err)
	}
	// The engine writes the same batch again until it succeeds.
	retries := 0
	for err != nil {
		if retries++; retries > 10 {
			t.Fatalf("still failing after %d retries: %v", retries, err)
		}
		err = write(s, recs)
	}
	counts := map[string]int{}
	for _, m := range b.Drain(t, queue) {
		counts[m.MessageBody]++
	}
	for _, r := range recs {
		if n := counts[string(r.Event.Data)]; n != 1 {
			t.Errorf("%s received %d times", r.Event.Data, n)
		}
	}
	// A later Write of other records sends them all (nothing is skipped).
	more := []api.Record{jsonRecord("t-A", `{"again":1}`)}
	if err := write(s, more); err != nil {
		t.Fatal(err)
	}
	if got := b.Drain(t, queue); len(got) != 1 {
		t.Errorf("after the retry, a new batch delivered %d messages, want 1", len(got))
	}
}

// TestOpenErrors: a wrong endpoint, a wrong secret and a missing queue
// fail Open with a message naming what to fix; the wrong secret and the
// missing queue are fatal, the unreachable endpoint is retried.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	b := testbedMNS(t)
	queue := b.Queue(t, "ferry-open", 0)
	for _, tc := range []struct {
		name  string
		cfg   map[string]string
		fatal bool
		want  string
	}{
		{"unreachable endpoint", b.config(queue, "connect.address", "127.0.0.1:1", "request.timeout", "2s"), false, "unreachable"},
		{"wrong secret", b.config(queue, "access.key.secret", "wrong"), true, "access.key.secret does not match"},
		{"unknown key id", b.config(queue, "access.key.id", "nobody"), true, "access.key.id is not known"},
		{"missing queue", b.config("ferry-no-such-queue"), true, `queue "ferry-no-such-queue": queue does not exist`},
		{"wrong secret, queue from events", b.config("", "queue.form", "JSONPATH", "queue.value", "$.data.q", "access.key.secret", "wrong"), true, "SignatureDoesNotMatch"},
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

// TestQueueFromEventMissing: with the queue taken from the event, a queue
// that does not exist rejects the records naming it, not the task.
func TestQueueFromEventMissing(t *testing.T) {
	t.Parallel()
	b := testbedMNS(t)
	queue := b.Queue(t, "ferry-dyn", 0)
	s := open(t, b.config("", "queue.form", "JSONPATH", "queue.value", "$.data.q"))
	err := write(s, []api.Record{jsonRecord("a", `{"q":"`+queue+`"}`), jsonRecord("b", `{"q":"ferry-missing-queue"}`), jsonRecord("c", `{"q":"bad queue!"}`)})
	var re *api.RecordErrors
	if !errors.As(err, &re) || len(*re) != 2 || (*re)[0].Index != 1 || (*re)[1].Index != 2 {
		t.Fatalf("Write = %v; want records 1 and 2 rejected", err)
	}
	if !strings.Contains((*re)[0].Err.Error(), "does not exist") || !strings.Contains((*re)[1].Err.Error(), "invalid queue name") {
		t.Errorf("reasons: %v", err)
	}
	if got := b.Drain(t, queue); len(got) != 1 {
		t.Errorf("received %d, want 1", len(got))
	}
}

// TestWriteHonoursCancel: a Write whose ctx is cancelled returns ctx's
// error promptly, even while a call is in flight.
func TestWriteHonoursCancel(t *testing.T) {
	t.Parallel()
	b := testbedMNS(t)
	queue := b.Queue(t, "ferry-cancel", 0)
	s := open(t, b.config(queue))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Write(ctx, generate(t, 10, 10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write after cancel = %v", err)
	}
}

// TestThrottleHint: a batch entry refused with QpsLimitExceeded makes Write
// retryable no sooner than a second (MNS sends no hint of its own).
func TestThrottleHint(t *testing.T) {
	t.Parallel()
	var once sync.Once
	b := private(t, emu.Config{SendFault: func(_, _ string) (code string) {
		once.Do(func() { code = "QpsLimitExceeded" })
		return code
	}})
	queue := b.Queue(t, "ferry-qps", 0)
	s := open(t, b.config(queue))
	err := write(s, generate(t, 5, 10))
	if err == nil || api.IsFatal(err) || api.BackoffHint(err) < time.Second {
		t.Fatalf("Write = %v (hint %v); want retryable after at least 1s", err, api.BackoffHint(err))
	}
}
