package mns_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/emulator/mns/mnstest"
)

// TestConfigRejected: every bounded setting refuses a hostile value, and
// the error names the field (the REST API's 400 carries it).
func TestConfigRejected(t *testing.T) {
	t.Parallel()
	b := bed{mnstest.Bed{Addr: "127.0.0.1:1", ID: "id", Secret: "secret"}}
	long := strings.Repeat("a", 400)
	for _, tc := range []struct {
		name, field string
		kv          []string
	}{
		{"endpoint not a URL", "endpoint", []string{"endpoint", "mns.example.com"}},
		{"endpoint wrong shape", "endpoint", []string{"endpoint", "http://127.0.0.1:18002"}},
		{"endpoint with path", "endpoint", []string{"endpoint", "http://1.mns.cn-hangzhou.aliyuncs.com/queues"}},
		{"endpoint too long", "endpoint", []string{"endpoint", "http://" + long + ".mns.cn-hangzhou.aliyuncs.com"}},
		{"endpoint scheme", "endpoint", []string{"endpoint", "ftp://1.mns.cn-hangzhou.aliyuncs.com"}},
		{"connect.address no port", "connect.address", []string{"connect.address", "localhost"}},
		{"secret too long", "access.key.secret", []string{"access.key.secret", strings.Repeat("s", 300)}},
		{"no key id", "access.key.id", []string{"access.key.id", ""}},
		{"queue chars", "queue", []string{"queue", "orders&<x>"}},
		{"queue too long", "queue", []string{"queue", long}},
		{"queue leading dash", "queue", []string{"queue", "-q"}},
		{"queue and form", "queue.form", []string{"queue.form", "JSONPATH", "queue.value", "$.data.q"}},
		{"priority 0", "priority", []string{"priority", "0"}},
		{"priority 17", "priority", []string{"priority", "17"}},
		{"priority text", "priority", []string{"priority", "high"}},
		{"priority constant form", "priority.value", []string{"priority.form", "CONSTANT", "priority.value", "99"}},
		{"delay negative", "delay.seconds", []string{"delay.seconds", "-1"}},
		{"delay over a week", "delay.seconds", []string{"delay.seconds", "604801"}},
		{"batch.size 17", "batch.size", []string{"batch.size", "17"}},
		{"batch.size 0", "batch.size", []string{"batch.size", "0"}},
		{"batch.bytes over 64 KiB", "batch.bytes", []string{"batch.bytes", "65537"}},
		{"parallelism", "send.parallelism", []string{"send.parallelism", "100000"}},
		{"timeout", "request.timeout", []string{"request.timeout", "1h"}},
		{"body binary", "body", []string{"body", "binary"}},
		{"body unknown", "body", []string{"body", "xml"}},
		{"body data and form", "body.form", []string{"body", "data", "body.form", "ORIGINAL"}},
		{"body template bad", "body.template", []string{"body.form", "TEMPLATE", "body.value", `{"a":"$.id"}`, "body.template", "${"}},
		{"base64 not bool", "base64", []string{"base64", "maybe"}},
		{"queue and topic", "topic", []string{"topic", "events"}},
		{"topic chars", "topic", []string{"queue", "", "topic", "t&<x>"}},
		{"topic too long", "topic", []string{"queue", "", "topic", long}},
		{"topic with priority", "priority", []string{"queue", "", "topic", "events", "priority", "1"}},
		{"topic with delay", "delay.seconds", []string{"queue", "", "topic", "events", "delay.seconds", "5"}},
		{"topic form bad", "topic.form", []string{"queue", "", "topic.form", "NOPE"}},
		{"tag on a queue", "tag", []string{"tag", "red"}},
		{"tag too long", "tag", []string{"queue", "", "topic", "events", "tag", "seventeen-bytes-x"}},
		{"tag not XML", "tag", []string{"queue", "", "topic", "events", "tag", "a\x01b"}},
		{"tag constant form too long", "tag.value", []string{"queue", "", "topic", "events", "tag.form", "CONSTANT", "tag.value", long}},
		{"tag form bad", "tag.form", []string{"queue", "", "topic", "events", "tag.form", "NOPE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := b.config("orders", tc.kv...)
			if cfg["queue"] == "" {
				delete(cfg, "queue")
			}
			_, err := newSink(t, cfg)
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
	if _, err := newSink(t, b.config("")); err == nil || !strings.Contains(err.Error(), "queue") {
		t.Fatalf("neither queue nor topic: %v, want an error naming queue", err)
	}
	if _, err := newSink(t, b.config("", "topic", "events")); err != nil {
		t.Fatalf("topic alone is valid: %v", err)
	}
	if _, err := newSink(t, b.config("orders", "priority", "16", "delay.seconds", "604800", "batch.size", "16", "batch.bytes", "65536")); err != nil {
		t.Fatalf("the bounds themselves are valid: %v", err)
	}
}
