package mns_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"testing"
	"time"

	ali_mns "github.com/aliyun/aliyun-mns-go-sdk"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/generator"
	"github.com/ferryhq/ferry/connectors/mns"
	emu "github.com/ferryhq/ferry/internal/emulator/mns"
	"github.com/ferryhq/ferry/internal/emulator/mns/mnstest"
)

// bed is one MNS to test against (mnstest.Bed) with the sink's settings
// for it.
type bed struct{ mnstest.Bed }

func testbedMNS(t testing.TB) bed { return bed{mnstest.Testbed(t)} }

// private starts an emulator for one test (for faults the shared one must
// not have).
func private(t testing.TB, cfg emu.Config) bed { return bed{mnstest.Private(t, cfg)} }

// config is the sink's connection settings for b.
func (b bed) config(queue string, kv ...string) map[string]string {
	m := map[string]string{"endpoint": emu.SDKEndpoint, "connect.address": b.Addr,
		"access.key.id": b.ID, "access.key.secret": b.Secret}
	if queue != "" {
		m["queue"] = queue
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// events decodes drained messages sent with base64 and body=structured.
func events(t testing.TB, msgs []ali_mns.MessageReceiveResponse) []api.Event {
	t.Helper()
	var out []api.Event
	for _, m := range msgs {
		raw, err := base64.StdEncoding.DecodeString(m.MessageBody)
		if err != nil {
			t.Fatalf("body is not base64: %q", m.MessageBody)
		}
		var ev api.Event
		if err := ev.UnmarshalJSON(raw); err != nil {
			t.Fatalf("body is not a CloudEvent: %v: %s", err, raw)
		}
		out = append(out, ev)
	}
	return out
}

// newSink parses, validates and builds the sink without opening it.
func newSink(t testing.TB, cfg map[string]string) (api.Sink, error) {
	t.Helper()
	c, err := mns.Sink.Spec.Parse(cfg)
	if err != nil {
		return nil, err
	}
	if err := mns.Sink.Validate(c); err != nil {
		return nil, err
	}
	return mns.Sink.New(api.TaskConfig{Connector: "mns-test", Config: c, Tasks: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// open builds and opens the sink; it is closed when the test ends.
func open(t testing.TB, cfg map[string]string) api.Sink {
	t.Helper()
	s, err := newSink(t, cfg)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func write(s api.Sink, recs []api.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Write(ctx, recs)
}

// generate returns n events of the generator source.
func generate(t testing.TB, n, payload int) []api.Record {
	t.Helper()
	recs, err := generator.Records(n, payload)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
