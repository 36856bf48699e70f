// Package mnstest is test support for code that talks to MNS: the test
// bed's MNS emulator or a private one started for a test, an official-SDK
// client for it, and queues and topics created, subscribed and drained
// through the SDK. It is a non-test package so that every package's tests
// share one copy.
package mnstest

import (
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	ali_mns "github.com/aliyun/aliyun-mns-go-sdk"
	"github.com/valyala/fasthttp"

	"github.com/ferryhq/ferry/internal/emulator/mns"
	"github.com/ferryhq/ferry/internal/testbed"
)

// The access key of a private emulator when its Config names none.
const (
	KeyID  = "ferry-test"
	Secret = "ferry-test-secret"
)

// Bed is one MNS to test against: requests name mns.SDKEndpoint and are
// sent to Addr (host:port), signed with the access key ID/Secret.
type Bed struct {
	Addr, ID, Secret string
}

// Testbed is the test bed's emulator; it skips or fails the test as
// internal/testbed does when the emulator is not running.
func Testbed(t testing.TB) Bed {
	t.Helper()
	c := testbed.MNS(t)
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return Bed{Addr: u.Host, ID: c.AccessKeyID, Secret: c.AccessKeySecret}
}

// Start runs an emulator with cfg on a free loopback port until the test
// ends. cfg's access key defaults to KeyID and Secret.
func Start(t testing.TB, cfg mns.Config) *mns.Server {
	t.Helper()
	if cfg.AccessKeyID == "" {
		cfg.AccessKeyID, cfg.AccessKeySecret = KeyID, Secret
	}
	srv, err := mns.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close emulator: %v", err)
		}
	})
	return srv
}

// Private is Start as a Bed, for faults the shared emulator must not
// have.
func Private(t testing.TB, cfg mns.Config) Bed {
	t.Helper()
	srv := Start(t, cfg)
	id, secret := cfg.AccessKeyID, cfg.AccessKeySecret
	if id == "" {
		id, secret = KeyID, Secret
	}
	return Bed{Addr: srv.Addr(), ID: id, Secret: secret}
}

// Client is the official SDK alone against b. Its connections close
// 100 ms after their last use (mns.Redirect keeps them 10 s), so that a
// goroutine-leak check at the end of a test finds none.
func (b Bed) Client() ali_mns.MNSClient {
	return b.ClientWith(b.Secret)
}

// ClientWith is Client signing with secret instead of b's.
func (b Bed) ClientWith(secret string) ali_mns.MNSClient {
	cli := ali_mns.NewAliMNSClientWithConfig(ali_mns.AliMNSClientConfig{
		EndPoint: mns.SDKEndpoint, AccessKeyId: b.ID, AccessKeySecret: secret, TimeoutSecond: 35})
	cli.SetTransport(&redirect{hc: &fasthttp.HostClient{Addr: b.Addr, MaxIdleConnDuration: 100 * time.Millisecond,
		ReadTimeout: time.Minute, WriteTimeout: time.Minute}})
	return cli
}

type redirect struct{ hc *fasthttp.HostClient }

func (r *redirect) RoundTrip(_ *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	return false, r.hc.Do(req, resp)
}

var seq atomic.Int64

// Name is a fresh name starting with prefix, for a queue or topic no
// other test uses.
func Name(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
}

// Queue creates a fresh queue with the given maximum message size (0:
// MNS's 64 KiB) and returns its name.
func (b Bed) Queue(t testing.TB, prefix string, maxSize int32) string {
	t.Helper()
	name := Name(prefix)
	if maxSize == 0 {
		maxSize = 65536
	}
	if err := ali_mns.NewMNSQueueManager(b.Client()).CreateQueue(name, 0, maxSize, 345600, 60, 0, 2); err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	return name
}

// Drain receives and deletes every message of queue with the SDK's
// consumer calls until one receive finds none.
func (b Bed) Drain(t testing.TB, queue string) []ali_mns.MessageReceiveResponse {
	t.Helper()
	q := ali_mns.NewMNSQueue(queue, b.Client())
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

// Topic creates a fresh topic (64 KiB messages) and returns its name.
func (b Bed) Topic(t testing.TB, prefix string) string {
	t.Helper()
	name := Name(prefix)
	if err := ali_mns.NewMNSTopicManager(b.Client()).CreateTopic(name, 65536, false); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	return name
}

// Subscribe makes queue receive topic's messages as published
// (NotifyContentFormat SIMPLIFIED), those tagged filterTag only unless it
// is "".
func (b Bed) Subscribe(t testing.TB, topic, queue, filterTag string) {
	t.Helper()
	tp := ali_mns.NewMNSTopic(topic, b.Client())
	err := tp.Subscribe("to-"+queue, ali_mns.MessageSubsribeRequest{Endpoint: tp.GenerateQueueEndpoint(queue),
		FilterTag: filterTag, NotifyContentFormat: ali_mns.SIMPLIFIED})
	if err != nil {
		t.Fatalf("subscribe %s to %s: %v", queue, topic, err)
	}
}
