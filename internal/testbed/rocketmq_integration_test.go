package testbed_test

import (
	"context"
	"fmt"
	"github.com/ferryhq/ferry/internal/rmqlog"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/ferryhq/ferry/internal/testbed"
)

var rlogOnce sync.Once

func quietRocketMQ() {
	rlogOnce.Do(func() {
		h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})
		rmqlog.Route(slog.New(h))
	})
}

var instanceSeq atomic.Int64

// instance returns a process-unique client instance name: rocketmq-client-go
// shares one client per IP@instance, and a shared client is shut down by
// whichever user closes it first.
func instance() string {
	return fmt.Sprintf("ferry-it-%d-%d", os.Getpid(), instanceSeq.Add(1))
}

// adminMu serialises admin use: the admin API offers no instance name, so
// all admins in a process share one client, and Close shuts it down.
var adminMu sync.Mutex

// createTopic creates topic with n queues on the broker and waits until the
// name server serves its route — CreateTopic does not report the broker's
// answer, so the route is the proof.
func createTopic(t *testing.T, namesrv, broker, topic string, n int) []*primitive.MessageQueue {
	t.Helper()
	return withAdmin(t, namesrv, 15*time.Second, func(ctx context.Context, a admin.Admin) []*primitive.MessageQueue {
		if err := a.CreateTopic(ctx, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(broker),
			admin.WithReadQueueNums(n), admin.WithWriteQueueNums(n)); err != nil {
			t.Fatalf("create topic %s: %v", topic, err)
		}
		return waitRoute(ctx, t, a, topic, n)
	})
}

// route fetches topic's n queues, retrying until the name server has the
// broker's registration again (after a restart).
func route(t *testing.T, namesrv, topic string, n int, within time.Duration) []*primitive.MessageQueue {
	t.Helper()
	return withAdmin(t, namesrv, within, func(ctx context.Context, a admin.Admin) []*primitive.MessageQueue {
		return waitRoute(ctx, t, a, topic, n)
	})
}

// withAdmin runs fn with a fresh admin client (one at a time, see adminMu)
// and a context ending after within.
func withAdmin(t *testing.T, namesrv string, within time.Duration,
	fn func(context.Context, admin.Admin) []*primitive.MessageQueue) []*primitive.MessageQueue {
	t.Helper()
	adminMu.Lock()
	defer adminMu.Unlock()
	a, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{namesrv})))
	if err != nil {
		t.Fatalf("admin: %v", err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	return fn(ctx, a)
}

func waitRoute(ctx context.Context, t *testing.T, a admin.Admin, topic string, n int) []*primitive.MessageQueue {
	t.Helper()
	var lastErr error
	for {
		mqs, err := a.FetchPublishMessageQueues(ctx, topic)
		if err == nil && len(mqs) == n {
			return mqs
		}
		lastErr = err
		if err == nil {
			lastErr = fmt.Errorf("%d queues, want %d", len(mqs), n)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("route of %s never appeared: %v", topic, lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// syncSender is the part of rocketmq-client-go's producer the tests use
// (its constructor returns an unexported type).
type syncSender interface {
	SendSync(ctx context.Context, msgs ...*primitive.Message) (*primitive.SendResult, error)
}

func newProducer(t *testing.T, namesrv string) syncSender {
	t.Helper()
	p, err := producer.NewDefaultProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{namesrv})),
		producer.WithGroupName("ferry-it-producer"),
		producer.WithInstanceName(instance()),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(5*time.Second),
	)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("producer start: %v", err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

// send sends body (also as the message key) and insists on SEND_OK.
func send(ctx context.Context, p syncSender, topic, body string) (*primitive.SendResult, error) {
	msg := primitive.NewMessage(topic, []byte(body))
	msg.WithKeys([]string{body})
	res, err := p.SendSync(ctx, msg)
	if err != nil {
		return nil, err
	}
	if res.Status != primitive.SendOK {
		return res, fmt.Errorf("send %q: status %v", body, res.Status)
	}
	return res, nil
}

// readAll pulls each queue of topic from offset 0 up to ends[queueID] (one
// past the last offset the producer reported) with a fresh pull consumer,
// and returns the bodies found with their queue offsets. Pulling stops at
// the known end because a pull at a queue's end is held by the broker for
// up to 20 s (long polling).
func readAll(t *testing.T, namesrv, topic string, mqs []*primitive.MessageQueue, ends map[int]int64) map[string]int64 {
	t.Helper()
	c, err := consumer.NewPullConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{namesrv})),
		consumer.WithGroupName(fmt.Sprintf("ferry-it-reader-%d", instanceSeq.Add(1))),
		consumer.WithInstance(instance()),
	)
	if err != nil {
		t.Fatalf("pull consumer: %v", err)
	}
	// Assign the topic with no queues: Start needs a topic, but assigned
	// queues would also be pulled by the consumer's own goroutines, which
	// race (go test -race) with PullFrom on the consumer's fields. PullFrom
	// takes any queue.
	if err := c.Assign(topic, []*primitive.MessageQueue{}); err != nil {
		t.Fatalf("assign: %v", err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("pull consumer start: %v", err)
	}
	defer c.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := map[string]int64{}
	for _, mq := range mqs {
		for off := int64(0); off < ends[mq.QueueId]; {
			q := *mq
			res, err := c.PullFrom(ctx, &q, off, 32)
			if err != nil {
				t.Fatalf("pull %s from %d: %v", mq, off, err)
			}
			if res.Status != primitive.PullFound {
				t.Fatalf("pull %s from %d: status %v, want found (queue end %d)", mq, off, res.Status, ends[mq.QueueId])
			}
			for _, m := range res.GetMessageExts() {
				got[string(m.Body)] = m.QueueOffset
			}
			if res.NextBeginOffset <= off {
				t.Fatalf("pull %s: offset did not advance from %d", mq, off)
			}
			off = res.NextBeginOffset
		}
	}
	return got
}

// sentLog records where each sent message landed.
type sentLog struct {
	offset map[string]int64 // body -> queue offset
	ends   map[int]int64    // queue id -> last offset + 1
}

func newSentLog() *sentLog {
	return &sentLog{offset: map[string]int64{}, ends: map[int]int64{}}
}

// sendN sends n messages with bodies "<prefix>-<i>" and records them.
func (l *sentLog) sendN(ctx context.Context, t *testing.T, p syncSender, topic, prefix string, n int) {
	t.Helper()
	for i := range n {
		body := fmt.Sprintf("%s-%d", prefix, i)
		res, err := send(ctx, p, topic, body)
		if err != nil {
			t.Fatal(err)
		}
		l.add(body, res)
	}
}

func (l *sentLog) add(body string, res *primitive.SendResult) {
	l.offset[body] = res.QueueOffset
	if q := res.MessageQueue.QueueId; res.QueueOffset+1 > l.ends[q] {
		l.ends[q] = res.QueueOffset + 1
	}
}

func uniqueTopic(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano())
}

func TestRocketMQRoundTrip(t *testing.T) {
	t.Parallel()
	quietRocketMQ()
	namesrv := testbed.RocketMQ(t)
	broker := testbed.RocketMQBroker(t)
	topic := uniqueTopic("ferry-it-rt")
	mqs := createTopic(t, namesrv, broker, topic, 2)

	p := newProducer(t, namesrv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sent := newSentLog()
	sent.sendN(ctx, t, p, topic, "rt", 10)

	got := readAll(t, namesrv, topic, mqs, sent.ends)
	if len(got) != len(sent.offset) {
		t.Fatalf("read %d messages, want %d: %v", len(got), len(sent.offset), got)
	}
	for body, off := range sent.offset {
		if g, ok := got[body]; !ok || g != off {
			t.Errorf("message %q: read at offset %d (found %v), sent to offset %d", body, g, ok, off)
		}
	}
}

// TestRocketMQSurvivesRestart restarts the name server and the broker
// (testbed.sh restart rocketmq, about 35 s here: ~12 s graceful broker
// shutdown, ~10 s start, ~9 s mqadmin readiness check) and checks that the
// topic, its messages and the producer all survive. It is not parallel:
// the package's other RocketMQ test waits until it is done. Tests of other
// packages using RocketMQ at the same time would see the outage, so run
// this package on its own (see docs/testing.md).
func TestRocketMQSurvivesRestart(t *testing.T) {
	quietRocketMQ()
	namesrv := testbed.RocketMQ(t)
	broker := testbed.RocketMQBroker(t)
	topic := uniqueTopic("ferry-it-restart")
	const queues = 4
	mqs := createTopic(t, namesrv, broker, topic, queues)

	p := newProducer(t, namesrv)
	// Generous bounds: on a loaded 2-core machine the restart alone has
	// taken two minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sent := newSentLog()
	sent.sendN(ctx, t, p, topic, "before", 20)

	start := time.Now()
	testbed.Run(t, "restart", "rocketmq")
	t.Logf("restart took %s", time.Since(start).Round(time.Millisecond))

	mqs2 := route(t, namesrv, topic, queues, 90*time.Second)
	if len(mqs2) != len(mqs) {
		t.Fatalf("after restart the topic has %d queues, want %d", len(mqs2), len(mqs))
	}

	// The producer from before the restart must recover by itself: its
	// broker is back at the same address.
	deadline := time.Now().Add(90 * time.Second)
	for i := range 5 {
		body := fmt.Sprintf("after-%d", i)
		for {
			sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
			res, err := send(sctx, p, topic, body)
			scancel()
			if err == nil {
				sent.add(body, res)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("send after restart still failing after 90 s: %v", err)
			}
			t.Logf("send after restart: %v (retrying)", err)
			time.Sleep(500 * time.Millisecond)
		}
	}

	got := readAll(t, namesrv, topic, mqs2, sent.ends)
	for body, off := range sent.offset {
		if g, ok := got[body]; !ok || g != off {
			t.Errorf("message %q (sent to offset %d) lost or moved across the restart: found %v at %d", body, off, ok, g)
		}
	}
}
