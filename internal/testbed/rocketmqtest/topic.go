package rocketmqtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferryhq/ferry/internal/testbed"
)

// adminMu serialises topic creation: rocketmq-client-go's admins share one
// process-wide client, which the first Close shuts down.
var adminMu sync.Mutex

// Topic creates a topic named after prefix, the process and the
// time, with n read and write queues on the test bed's broker, and waits
// until the name server serves its route: CreateTopic does not report the
// broker's answer, so the route is the proof. It stops the test as
// testbed.RocketMQ does when the broker is not there, and fails it when the route
// does not show n queues within 20 s.
func Topic(tb testing.TB, prefix string, n int) string {
	tb.Helper()
	namesrv, broker := testbed.RocketMQ(tb), testbed.RocketMQBroker(tb)
	topic := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano())
	adminMu.Lock()
	defer adminMu.Unlock()
	a, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{namesrv})))
	if err != nil {
		tb.Fatalf("testbed: rocketmq admin: %v", err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.CreateTopic(ctx, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(broker),
		admin.WithReadQueueNums(n), admin.WithWriteQueueNums(n)); err != nil {
		tb.Fatalf("testbed: create topic %s: %v", topic, err)
	}
	for {
		mqs, err := a.FetchPublishMessageQueues(ctx, topic)
		if err == nil && len(mqs) == n {
			return topic
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("testbed: route of %s never showed %d queues: %d, %v", topic, n, len(mqs), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
