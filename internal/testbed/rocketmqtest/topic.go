package rocketmqtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/rmqwire"
	"github.com/ferryhq/ferry/internal/testbed"
)

// Topic creates a topic named after prefix, the process and the
// time, with n read and write queues on the test bed's broker, and waits
// until the name server serves its route with n writable queues: the
// broker registers a new topic with the name server only on its next
// heartbeat. It stops the test as testbed.RocketMQ does when the broker is
// not there, and fails it when the broker refuses the topic or the route
// does not show n queues within 20 s.
func Topic(tb testing.TB, prefix string, n int) string {
	tb.Helper()
	return topic(tb, prefix, n, "")
}

// FIFOTopic is Topic for a RocketMQ 5 FIFO topic: the topic attribute
// message.type=FIFO, as `mqadmin updateTopic -a +message.type=FIFO` sets
// it (the same UPDATE_AND_CREATE_TOPIC request). It fails the test unless
// the broker then reports the topic's message.type as FIFO.
func FIFOTopic(tb testing.TB, prefix string, n int) string {
	tb.Helper()
	return topic(tb, prefix, n, "FIFO")
}

func topic(tb testing.TB, prefix string, n int, messageType string) string {
	tb.Helper()
	namesrv, broker := testbed.RocketMQ(tb), testbed.RocketMQBroker(tb)
	name := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t := rmqwire.Topic{Name: name, Queues: n}
	if messageType != "" {
		t.Attributes = map[string]string{"message.type": messageType}
	}
	if err := rmqwire.CreateTopic(ctx, broker, rmqwire.Credentials{}, t, timeout); err != nil {
		tb.Fatalf("testbed: create topic %s: %v", name, err)
	}
	if messageType != "" {
		attrs, err := rmqwire.TopicAttributes(ctx, broker, rmqwire.Credentials{}, name, timeout)
		if err != nil {
			tb.Fatalf("testbed: create topic %s: %v", name, err)
		}
		if got := attrs["message.type"]; got != messageType {
			tb.Fatalf("testbed: create topic %s: the broker holds message.type %q, want %q (attributes %v)", name, got, messageType, attrs)
		}
	}
	for {
		r, err := rmqwire.TopicRoute(ctx, []string{namesrv}, rmqwire.Credentials{}, name, timeout)
		if err == nil && writable(r) == n {
			return name
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("testbed: route of %s never showed %d queues: %d, %v", name, n, writable(r), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// writable counts the route's queues a producer may send to.
func writable(r rmqwire.Route) int {
	n := 0
	for _, q := range r.QueueDatas {
		if q.Perm&2 != 0 { // PermName.PERM_WRITE
			n += q.WriteQueueNums
		}
	}
	return n
}
