package mns

import (
	"testing"
	"time"
)

// These tests drive the queue state machine directly with explicit times,
// so visibility, delay and retention need no sleeping.

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testQueue(vis int64) *queue {
	a := defaultAttrs()
	a.VisibilityTimeout = vis
	return newQueue("q", a, t0, "TEST")
}

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

func TestQueueVisibilityCycle(t *testing.T) {
	t.Parallel()
	q := testQueue(10)
	sent := q.send(sendInput{Body: "hello", Priority: defaultPriority}, t0)
	if sent.Handle != "" {
		t.Fatalf("undelayed send got a receipt handle %q", sent.Handle)
	}

	r1 := q.receive(t0.Add(sec(1)), 1)
	if len(r1) != 1 || r1[0].ID != sent.ID || r1[0].DequeueCount != 1 ||
		r1[0].NextVisibleTime != t0.Add(sec(11)).UnixMilli() || r1[0].FirstDequeueTime != t0.Add(sec(1)).UnixMilli() {
		t.Fatalf("first receive: %+v", r1)
	}
	if c := q.stats(t0.Add(sec(5))); c != (counts{Inactive: 1}) {
		t.Fatalf("stats while invisible: %+v", c)
	}
	if got := q.receive(t0.Add(sec(10)), 1); len(got) != 0 {
		t.Fatalf("received while invisible: %+v", got)
	}
	if next := q.nextVisible(t0.Add(sec(10))); !next.Equal(t0.Add(sec(11))) {
		t.Fatalf("nextVisible = %v", next)
	}

	// Visible again exactly at NextVisibleTime, with a new handle.
	r2 := q.receive(t0.Add(sec(11)), 1)
	if len(r2) != 1 || r2[0].DequeueCount != 2 || r2[0].Handle == r1[0].Handle ||
		r2[0].FirstDequeueTime != r1[0].FirstDequeueTime {
		t.Fatalf("second receive: %+v", r2)
	}
	if err := q.delete(r1[0].Handle, t0.Add(sec(12))); err != errReceiptHandle {
		t.Fatalf("delete with superseded handle: %v", err)
	}

	h, next, err := q.changeVisibility(r2[0].Handle, 100, t0.Add(sec(12)))
	if err != nil || h == r2[0].Handle || !next.Equal(t0.Add(sec(112))) {
		t.Fatalf("changeVisibility: %q %v %v", h, next, err)
	}
	if got := q.receive(t0.Add(sec(50)), 1); len(got) != 0 {
		t.Fatalf("received before the changed visibility ended: %+v", got)
	}
	if err := q.delete(r2[0].Handle, t0.Add(sec(13))); err != errReceiptHandle {
		t.Fatalf("delete with pre-change handle: %v", err)
	}
	if err := q.delete(h, t0.Add(sec(13))); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := q.delete(h, t0.Add(sec(14))); err != errMessageNotExist {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestQueueHandleExpiresAtNextVisibleTime(t *testing.T) {
	t.Parallel()
	q := testQueue(10)
	q.send(sendInput{Body: "x", Priority: defaultPriority}, t0)
	r := q.receive(t0, 1)
	// Not re-received, but the visibility period is over: MNS documents the
	// handle as valid only before NextVisibleTime.
	if err := q.delete(r[0].Handle, t0.Add(sec(10))); err != errReceiptHandle {
		t.Fatalf("delete after NextVisibleTime: %v", err)
	}
	if _, _, err := q.changeVisibility(r[0].Handle, 5, t0.Add(sec(10))); err != errReceiptHandle {
		t.Fatalf("changeVisibility after NextVisibleTime: %v", err)
	}
}

func TestQueueOrderAndDelay(t *testing.T) {
	t.Parallel()
	q := testQueue(30)
	q.send(sendInput{Body: "p8-a", Priority: 8}, t0)
	q.send(sendInput{Body: "p16", Priority: 16}, t0)
	q.send(sendInput{Body: "p1", Priority: 1}, t0)
	q.send(sendInput{Body: "p8-b", Priority: 8}, t0)
	delayed := q.send(sendInput{Body: "delayed", Priority: 1, DelaySeconds: 5}, t0)
	if delayed.Handle == "" {
		t.Fatal("delayed send got no receipt handle")
	}
	if c := q.stats(t0); c != (counts{Active: 4, Delayed: 1}) {
		t.Fatalf("stats: %+v", c)
	}
	peeked := q.peek(t0, 16)
	got := q.receive(t0, 16)
	want := []string{"p1", "p8-a", "p8-b", "p16"}
	if len(got) != len(want) || len(peeked) != len(want) {
		t.Fatalf("got %d messages, peeked %d, want %d", len(got), len(peeked), len(want))
	}
	for i := range want {
		if got[i].Body != want[i] || peeked[i].Body != want[i] {
			t.Fatalf("position %d: received %q peeked %q, want %q", i, got[i].Body, peeked[i].Body, want[i])
		}
		if peeked[i].Handle != "" || peeked[i].DequeueCount != 0 {
			t.Fatalf("peek changed or exposed state: %+v", peeked[i])
		}
	}
	if r := q.receive(t0.Add(sec(5)), 16); len(r) != 1 || r[0].Body != "delayed" {
		t.Fatalf("after the delay: %+v", r)
	}
}

func TestQueueDeleteDelayedByHandle(t *testing.T) {
	t.Parallel()
	q := testQueue(30)
	d := q.send(sendInput{Body: "never", Priority: 8, DelaySeconds: 60}, t0)
	if err := q.delete(d.Handle, t0.Add(sec(1))); err != nil {
		t.Fatalf("delete delayed message: %v", err)
	}
	if r := q.receive(t0.Add(sec(61)), 16); len(r) != 0 {
		t.Fatalf("deleted delayed message delivered: %+v", r)
	}
}

func TestQueueRetention(t *testing.T) {
	t.Parallel()
	a := defaultAttrs()
	a.MessageRetentionPeriod = 60
	q := newQueue("q", a, t0, "TEST")
	q.send(sendInput{Body: "old", Priority: 8}, t0)
	q.send(sendInput{Body: "new", Priority: 8}, t0.Add(sec(30)))
	got := q.receive(t0.Add(sec(60)), 16)
	if len(got) != 1 || got[0].Body != "new" {
		t.Fatalf("after retention of the first message: %+v", got)
	}
}

func TestQueueValidateSend(t *testing.T) {
	t.Parallel()
	a := defaultAttrs()
	a.MaximumMessageSize = 1024
	q := newQueue("q", a, t0, "TEST")
	tests := []struct {
		name string
		in   sendInput
		ok   bool
	}{
		{"fits", sendInput{Body: string(make([]byte, 1024)), Priority: 8}, true},
		{"too large", sendInput{Body: string(make([]byte, 1025)), Priority: 8}, false},
		{"priority 0", sendInput{Body: "x", Priority: 0}, false},
		{"priority 17", sendInput{Body: "x", Priority: 17}, false},
		{"max delay", sendInput{Body: "x", Priority: 1, DelaySeconds: maxDelaySeconds}, true},
		{"negative delay", sendInput{Body: "x", Priority: 1, DelaySeconds: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := q.validateSend(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("validateSend = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestParseHandle(t *testing.T) {
	t.Parallel()
	q := testQueue(30)
	q.send(sendInput{Body: "x", Priority: 8}, t0)
	good := q.receive(t0, 1)[0].Handle
	tests := []struct {
		name   string
		handle string
		seq    uint64
		ok     bool
	}{
		{"issued", good, 1, true},
		{"no prefix", good[2:], 0, false},
		{"not base64", "1-!!!", 0, false},
		{"no counter", "1-MQ==", 0, false},                                       // "1"
		{"zero seq", "1-MC0x", 0, false},                                         // "0-1"
		{"non-numeric counter", "1-MS14", 0, false},                              // "1-x"
		{"MNS cloud handle", "1-ODU4OTkzNDU5My0xNDM1MTk3NjAwLTItNg==", 0, false}, // "8589934593-1435197600-2-6"
		{"empty", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			seq, ok := parseHandle(tt.handle)
			if ok != tt.ok || seq != tt.seq {
				t.Fatalf("parseHandle(%q) = %d, %v; want %d, %v", tt.handle, seq, ok, tt.seq, tt.ok)
			}
		})
	}
}
