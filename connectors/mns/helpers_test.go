package mns_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	ali_mns "github.com/aliyun/aliyun-mns-go-sdk"
	"github.com/valyala/fasthttp"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/generator"
	"github.com/ferryhq/ferry/connectors/mns"
	emu "github.com/ferryhq/ferry/internal/emulator/mns"
	"github.com/ferryhq/ferry/internal/testbed"
)

// bed is one MNS to test against: the test bed's emulator or a private
// one, reached through emu.SDKEndpoint and a redirect to addr.
type bed struct {
	addr, id, secret string
}

func testbedMNS(t testing.TB) bed {
	c := testbed.MNS(t)
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return bed{addr: u.Host, id: c.AccessKeyID, secret: c.AccessKeySecret}
}

// private starts an emulator for one test (for faults the shared one must
// not have).
func private(t testing.TB, cfg emu.Config) bed {
	cfg.AccessKeyID, cfg.AccessKeySecret = "id", "secret"
	srv, err := emu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return bed{addr: srv.Addr(), id: "id", secret: "secret"}
}

// config is the sink's connection settings for b.
func (b bed) config(queue string, kv ...string) map[string]string {
	m := map[string]string{"endpoint": emu.SDKEndpoint, "connect.address": b.addr,
		"access.key.id": b.id, "access.key.secret": b.secret}
	if queue != "" {
		m["queue"] = queue
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// client is the SDK alone, as a consumer or a benchmark baseline uses it.
func (b bed) client() ali_mns.MNSClient {
	cli := ali_mns.NewAliMNSClientWithConfig(ali_mns.AliMNSClientConfig{
		EndPoint: emu.SDKEndpoint, AccessKeyId: b.id, AccessKeySecret: b.secret, TimeoutSecond: 35})
	// Not emu.Redirect: its connection cleaner would stay for 10 s after
	// the last request and trouble the conformance kit's leak check.
	cli.SetTransport(&redirect{hc: &fasthttp.HostClient{Addr: b.addr, MaxIdleConnDuration: 100 * time.Millisecond,
		ReadTimeout: time.Minute, WriteTimeout: time.Minute}})
	return cli
}

type redirect struct{ hc *fasthttp.HostClient }

func (r *redirect) RoundTrip(_ *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	return false, r.hc.Do(req, resp)
}

var queueSeq atomic.Int64

// queue creates a fresh queue with the given maximum message size (0:
// MNS's 64 KiB) and returns its name.
func (b bed) queue(t testing.TB, prefix string, maxSize int32) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, queueSeq.Add(1))
	if maxSize == 0 {
		maxSize = 65536
	}
	if err := ali_mns.NewMNSQueueManager(b.client()).CreateQueue(name, 0, maxSize, 345600, 60, 0, 2); err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	return name
}

// drain receives and deletes every message of queue with the SDK's
// consumer calls until one receive finds none.
func (b bed) drain(t testing.TB, queue string) []ali_mns.MessageReceiveResponse {
	t.Helper()
	q := ali_mns.NewMNSQueue(queue, b.client())
	var out []ali_mns.MessageReceiveResponse
	for {
		rc, ec := make(chan ali_mns.BatchMessageReceiveResponse, 1), make(chan error, 1)
		q.BatchReceiveMessage(rc, ec, 16) // the queue polls for 0 s
		select {
		case r := <-rc:
			out = append(out, r.Messages...)
			var handles []string
			for _, m := range r.Messages {
				handles = append(handles, m.ReceiptHandle)
			}
			if _, err := q.BatchDeleteMessage(handles...); err != nil {
				t.Fatalf("delete: %v", err)
			}
		case err := <-ec:
			if ali_mns.ERR_MNS_MESSAGE_NOT_EXIST.IsEqual(err) {
				return out
			}
			t.Fatalf("receive: %v", err)
		}
	}
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

// generate reads n events from the generator source.
func generate(t testing.TB, n, payload int) []api.Record {
	t.Helper()
	c, err := generator.Source.Spec.Parse(map[string]string{"count": fmt.Sprint(n), "payload.bytes": fmt.Sprint(payload)})
	if err != nil {
		t.Fatal(err)
	}
	src, err := generator.Source.New(api.TaskConfig{Connector: "gen", Tasks: 1, Config: c})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := src.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	var out []api.Record
	for {
		recs, err := src.Read(ctx)
		out = append(out, recs...)
		if errors.Is(err, api.ErrEndOfInput) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
