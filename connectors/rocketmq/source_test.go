package rocketmq_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/rocketmq"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/internal/testbed/rocketmqtest"
)

var producerSeq atomic.Int64

// newProducer starts a producer on the test bed that sends each message
// to the queue its sharding key hashes to (or in turn without one).
func newProducer(t testing.TB, namesrv string) rmq.Producer {
	t.Helper()
	p, err := rmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{namesrv})),
		producer.WithGroupName(fmt.Sprintf("ferry-src-test-%d", producerSeq.Add(1))),
		producer.WithInstanceName(fmt.Sprintf("ferry-src-test-%d-%d", os.Getpid(), producerSeq.Add(1))),
		producer.WithQueueSelector(producer.NewHashQueueSelector()),
		producer.WithRetry(2),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

// produce sends msgs one by one and returns each one's queue and offset.
func produce(t testing.TB, p rmq.Producer, msgs ...*primitive.Message) []*primitive.SendResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := make([]*primitive.SendResult, len(msgs))
	for i, m := range msgs {
		var err error
		for try := 0; ; try++ {
			if out[i], err = p.SendSync(ctx, m); err == nil {
				break
			}
			if try > 5 {
				t.Fatalf("send %d: %v", i, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return out
}

// keyedMessages makes n messages over keys keys: key k<i%keys>, body
// {"key":…,"seq":i}, tag tag<i%3>, and a property n=<i>.
func keyedMessages(topic string, n, keys int) []*primitive.Message {
	out := make([]*primitive.Message, n)
	for i := range out {
		k := "k" + strconv.Itoa(i%keys)
		m := primitive.NewMessage(topic, fmt.Appendf(nil, `{"key":%q,"seq":%d}`, k, i))
		m.WithShardingKey(k)
		m.WithKeys([]string{k})
		m.WithTag("tag" + strconv.Itoa(i%3))
		m.WithProperty("n", strconv.Itoa(i))
		out[i] = m
	}
	return out
}

// srcTask is one source task under test.
type srcTask struct {
	api.Source
	t testing.TB
}

func newSourceTask(t testing.TB, cfg map[string]string, task, tasks int, committed map[string]api.Position) *srcTask {
	t.Helper()
	c, err := rocketmq.Source.Spec.Parse(cfg)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := rocketmq.Source.Validate(c); err != nil {
		t.Fatalf("validate: %v", err)
	}
	s, err := rocketmq.Source.New(api.TaskConfig{Connector: "rmq-src-test", Task: task, Tasks: tasks, Config: c,
		Committed: committed, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	return &srcTask{Source: s, t: t}
}

func openSource(t testing.TB, cfg map[string]string, task, tasks int, committed map[string]api.Position) *srcTask {
	t.Helper()
	s := newSourceTask(t, cfg, task, tasks, committed)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// readN reads until n records arrived or d passed, and returns them.
func (s *srcTask) readN(n int, d time.Duration) []api.Record {
	s.t.Helper()
	var out []api.Record
	deadline := time.Now().Add(d)
	for len(out) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		recs, err := s.Read(ctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.t.Fatalf("read: %v", err)
		}
		out = append(out, recs...)
	}
	return out
}

// committedOf is what the engine would commit after every record was
// written: the last position of each partition.
func committedOf(recs []api.Record) map[string]api.Position {
	out := map[string]api.Position{}
	for _, r := range recs {
		out[r.Partition] = r.Position
	}
	return out
}

func TestSourceSmoke(t *testing.T) {
	t.Parallel()
	namesrv := testbed.RocketMQ(t)
	topic := rocketmqtest.Topic(t, "ferry-src-smoke", 4)
	p := newProducer(t, namesrv)
	produce(t, p, keyedMessages(topic, 100, 10)...)
	s := openSource(t, map[string]string{"nameservers": namesrv, "topic": topic, "group": "g-" + topic}, 0, 1, nil)
	recs := s.readN(100, 20*time.Second)
	if len(recs) != 100 {
		t.Fatalf("read %d records, want 100", len(recs))
	}
	t.Logf("%+v", recs[0])
}
