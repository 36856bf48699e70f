package rocketmq_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/internal/testbed/rocketmqtest"
)

// fillTopic stores n messages of about 1 KB (JSON, a key, a tag, one
// property) in an 8-queue topic, in batch messages of 128, queues in turn.
func fillTopic(b *testing.B, namesrv string, n int) string {
	b.Helper()
	topic := rocketmqtest.Topic(b, "ferry-src-bench", 8)
	p := newProducer(b, namesrv)
	pad := strings.Repeat("x", 900)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for i := 0; i < n; i += 128 {
		batch := make([]*primitive.Message, 0, 128)
		for j := i; j < min(n, i+128); j++ {
			k := "row-" + strconv.Itoa(j%1000)
			m := primitive.NewMessage(topic, fmt.Appendf(nil, `{"table":"orders","id":%q,"seq":%d,"pad":%q}`, k, j, pad))
			m.WithKeys([]string{k})
			m.WithTag("created")
			m.WithProperty("region", "eu")
			m.WithShardingKey(strconv.Itoa(i / 128)) // one batch, one queue
			batch = append(batch, m)
		}
		if _, err := p.SendSync(ctx, batch...); err != nil {
			b.Fatalf("fill: %v", err)
		}
	}
	rocketmqtest.ReadQueues(b, testbed.RocketMQBroker(b), topic, 8, n) // waits until the queues hold them all
	return topic
}

// BenchmarkSourceRead measures messages/s from the test bed's RocketMQ
// through the source's Read loop, beside rocketmq-client-go's own push
// consumer reading a topic filled the same way in the same run (the
// ceiling). One op is
// one message of about 1 KB, over 8 queues. The rate is taken from the
// first message to the last (neither Open nor the consumer's rebalance
// counts), allocations per message over the same span.
//
//	go test -run '^$' -bench BenchmarkSourceRead -benchtime 200000x ./connectors/rocketmq/
func BenchmarkSourceRead(b *testing.B) {
	namesrv := testbed.RocketMQ(b)
	b.Run("ferry", func(b *testing.B) {
		topic := fillTopic(b, namesrv, b.N)
		s := openSource(b, srcConfig(namesrv, topic, "group", "bench-ferry-"+topic), 0, 1, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		var m0, m1 runtime.MemStats
		n := 0
		var start time.Time
		for n < b.N {
			recs, err := s.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				start = time.Now()
				runtime.ReadMemStats(&m0)
			}
			n += len(recs)
		}
		report(b, n, time.Since(start), &m0, &m1)
	})
	b.Run("client-go", func(b *testing.B) {
		topic := fillTopic(b, namesrv, b.N)
		c, err := rmq.NewPushConsumer(
			consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{namesrv})),
			consumer.WithGroupName("bench-clientgo-"+topic),
			consumer.WithInstance(fmt.Sprintf("bench-clientgo-%d", time.Now().UnixNano())),
			consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
			consumer.WithConsumeMessageBatchMaxSize(32),
		)
		if err != nil {
			b.Fatal(err)
		}
		var n atomic.Int64
		var start atomic.Int64
		var m0, m1 runtime.MemStats
		done := make(chan struct{})
		err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			if start.CompareAndSwap(0, time.Now().UnixNano()) {
				runtime.ReadMemStats(&m0)
			}
			if n.Add(int64(len(msgs))) >= int64(b.N) {
				select {
				case <-done:
				default:
					close(done)
				}
			}
			return consumer.ConsumeSuccess, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		defer c.Shutdown()
		select {
		case <-done:
		case <-time.After(10 * time.Minute):
			b.Fatalf("consumer read %d of %d", n.Load(), b.N)
		}
		report(b, int(n.Load()), time.Since(time.Unix(0, start.Load())), &m0, &m1)
	})
}

func report(b *testing.B, n int, d time.Duration, m0, m1 *runtime.MemStats) {
	runtime.ReadMemStats(m1)
	b.ReportMetric(float64(n)/d.Seconds(), "msgs/s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(n), "allocs/msg")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(n), "B/msg")
}
