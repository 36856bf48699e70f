package mns_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	emu "github.com/ferryhq/ferry/internal/emulator/mns"
)

// The topic tests run on a private emulator: the test bed's process may
// predate topics.

// TestTopicRoundTrip: generator events published to a topic with
// topic=<constant> reach every subscribed queue, each once, read back with
// the SDK's consumer calls; hostile bodies arrive intact, base64 on and off.
func TestTopicRoundTrip(t *testing.T) {
	t.Parallel()
	b := private(t, emu.Config{})
	topic := b.Topic(t, "ferry-topic")
	q1, q2 := b.Queue(t, "ferry-sub-a", 0), b.Queue(t, "ferry-sub-b", 0)
	b.Subscribe(t, topic, q1, "")
	b.Subscribe(t, topic, q2, "")
	recs := generate(t, 300, 200)
	s := open(t, b.config("", "topic", topic))
	for lo := 0; lo < len(recs); lo += 128 {
		if err := write(s, recs[lo:min(lo+128, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{q1, q2} {
		got := events(t, b.Drain(t, q))
		byID := map[string]api.Event{}
		for _, e := range got {
			if _, dup := byID[e.ID]; dup {
				t.Errorf("%s: event %s received twice", q, e.ID)
			}
			byID[e.ID] = e
		}
		for _, r := range recs {
			if e, ok := byID[r.Event.ID]; !ok || string(e.Data) != string(r.Event.Data) {
				t.Errorf("%s: event %s missing or changed: %+v", q, r.Event.ID, e)
			}
		}
		if len(got) != len(recs) {
			t.Errorf("%s: received %d messages, published %d", q, len(got), len(recs))
		}
	}

	for _, b64 := range []bool{true, false} {
		q := b.Queue(t, "ferry-sub-bodies", 0)
		tp := b.Topic(t, "ferry-topic-bodies")
		b.Subscribe(t, tp, q, "")
		hostileRoundTrip(t, b, open(t, b.config("", "topic", tp, "body", "data", "base64", strconv.FormatBool(b64))), q, b64)
	}
}

// TestTopicFromEvent: the topic named by each event; a record naming a
// topic that does not exist is rejected alone, the others published.
func TestTopicFromEvent(t *testing.T) {
	t.Parallel()
	b := private(t, emu.Config{})
	topic := b.Topic(t, "ferry-topic-ev")
	q := b.Queue(t, "ferry-sub-ev", 0)
	b.Subscribe(t, topic, q, "")
	s := open(t, b.config("", "topic.form", "JSONPATH", "topic.value", "$.data.t", "body", "data"))
	var recs []api.Record
	for i, tp := range []string{topic, "ferry-no-such-topic", topic} {
		data, _ := json.Marshal(map[string]any{"t": tp, "n": i})
		recs = append(recs, api.Record{Event: api.Event{ID: string(rune('a' + i)), Source: "/t", Type: "t", SpecVersion: "1.0",
			DataContentType: "application/json", Data: data}})
	}
	err := write(s, recs)
	var re *api.RecordErrors
	if !errors.As(err, &re) || len(*re) != 1 || (*re)[0].Index != 1 || !strings.Contains((*re)[0].Err.Error(), "topic does not exist") {
		t.Fatalf("Write = %v; want record 1 rejected: topic does not exist", err)
	}
	if got := b.Drain(t, q); len(got) != 2 {
		t.Fatalf("%d messages published, want 2", len(got))
	}
}

// TestTopicTags: tag sets each message's MessageTag, constant or from the
// event; a subscription with a FilterTag receives only its tag's messages,
// one without receives all; a record whose tag renders too long is
// rejected alone.
func TestTopicTags(t *testing.T) {
	t.Parallel()
	b := private(t, emu.Config{})
	topic := b.Topic(t, "ferry-topic-tags")
	all, red, blue := b.Queue(t, "ferry-sub-all", 0), b.Queue(t, "ferry-sub-red", 0), b.Queue(t, "ferry-sub-blue", 0)
	b.Subscribe(t, topic, all, "")
	b.Subscribe(t, topic, red, "red")
	b.Subscribe(t, topic, blue, "blue")

	s := open(t, b.config("", "topic", topic, "tag.form", "JSONPATH", "tag.value", "$.data.colour", "body", "data"))
	var recs []api.Record
	for i, colour := range []string{"red", "blue", "red", "a-colour-far-too-long", "green"} {
		data, _ := json.Marshal(map[string]any{"colour": colour, "n": i})
		recs = append(recs, api.Record{Event: api.Event{ID: strconv.Itoa(i), Source: "/t", Type: "t", SpecVersion: "1.0",
			DataContentType: "application/json", Data: data}})
	}
	err := write(s, recs)
	var re *api.RecordErrors
	if !errors.As(err, &re) || len(*re) != 1 || (*re)[0].Index != 3 || !strings.Contains((*re)[0].Err.Error(), "invalid message tag") {
		t.Fatalf("Write = %v; want record 3 rejected: invalid message tag", err)
	}
	for _, tc := range []struct {
		queue string
		want  int
	}{{all, 4}, {red, 2}, {blue, 1}} {
		if got := b.Drain(t, tc.queue); len(got) != tc.want {
			t.Errorf("%s received %d messages, want %d", tc.queue, len(got), tc.want)
		}
	}

	constant := open(t, b.config("", "topic", topic, "tag", "blue", "body", "data"))
	if err := write(constant, recs[:2]); err != nil {
		t.Fatal(err)
	}
	if got := b.Drain(t, blue); len(got) != 2 {
		t.Errorf("constant tag blue: the blue subscription received %d messages, want 2", len(got))
	}
	if got := b.Drain(t, red); len(got) != 0 {
		t.Errorf("constant tag blue: the red subscription received %d messages, want 0", len(got))
	}
}

// TestTopicOpenErrors: a missing constant topic fails Open, fatal, naming
// it; a wrong secret likewise when the topic comes from events.
func TestTopicOpenErrors(t *testing.T) {
	t.Parallel()
	b := private(t, emu.Config{})
	for _, tc := range []struct {
		name string
		cfg  map[string]string
		want string
	}{
		{"missing topic", b.config("", "topic", "ferry-no-such-topic"), `topic "ferry-no-such-topic": topic does not exist`},
		{"wrong secret, topic from events", b.config("", "topic.form", "JSONPATH", "topic.value", "$.data.t", "access.key.secret", "wrong"), "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newSink(t, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = s.Open(ctx)
			defer s.Close(context.Background())
			if err == nil || !api.IsFatal(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v (fatal %v); want fatal containing %q", err, api.IsFatal(err), tc.want)
			}
		})
	}
}
