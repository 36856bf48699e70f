package rocketmqtest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferryhq/ferry/internal/rmqwire"
)

// Tests read topics back over RocketMQ's remoting protocol directly
// (internal/rmqwire), with no consumer group state: the library's pull
// consumer holds a pull at a queue's end for 20 s and leaves goroutines
// behind, which leak checks would see.

// timeout bounds one request to the test bed's broker.
const timeout = 15 * time.Second

// readerGroup is the consumer group the pulls name; it keeps no offsets.
const readerGroup = "ferry-test-reader"

// pull reads up to 256 messages of a queue from off on c, without holding
// the request at the queue's end, and returns them with the next offset.
func pull(ctx context.Context, c *rmqwire.Conn, topic string, queue int, off int64) ([]*primitive.MessageExt, int64, error) {
	res, err := c.Pull(ctx, rmqwire.Pull{Group: readerGroup, Topic: topic, Queue: queue, Offset: off, Max: 256})
	if err != nil {
		return nil, 0, err
	}
	if res.Moved {
		return nil, 0, fmt.Errorf("pull %s/%d at %d: the broker no longer has it (first stored %d)", topic, queue, off, res.Min)
	}
	return primitive.DecodeMessage(res.Body), res.Next, nil
}

// ReadQueue returns a queue's messages from offset 0 up to end.
func ReadQueue(ctx context.Context, broker, topic string, queue int, end int64) ([]*primitive.MessageExt, error) {
	c, err := rmqwire.Dial(ctx, broker, rmqwire.Credentials{})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []*primitive.MessageExt
	for off := int64(0); off < end; {
		msgs, next, err := pull(ctx, c, topic, queue, off)
		if err != nil {
			return nil, err
		}
		if next <= off {
			return nil, fmt.Errorf("read %s/%d: the offset did not advance from %d", topic, queue, off)
		}
		out = append(out, msgs...)
		off = next
	}
	return out, nil
}

// Ends returns one past the last message of each of a topic's queues.
func Ends(ctx context.Context, broker, topic string, queues int) ([]int64, error) {
	out := make([]int64, queues)
	for q := range out {
		end, err := rmqwire.MaxOffset(ctx, broker, rmqwire.Credentials{}, topic, q, timeout)
		if err != nil {
			return nil, err
		}
		out[q] = end
	}
	return out, nil
}

// ReadQueues returns every message of the topic's queues, per queue in
// queue order. The broker builds its queue indexes shortly after storing
// (asynchronously), so it first waits up to 15 s until the queues hold
// want messages or, with want < 0, until their ends stop moving.
func ReadQueues(tb testing.TB, broker, topic string, queues, want int) [][]*primitive.MessageExt {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends := func() []int64 {
		e, err := Ends(ctx, broker, topic, queues)
		if err != nil {
			tb.Fatalf("read back: %v", err)
		}
		return e
	}
	deadline := time.Now().Add(15 * time.Second)
	end := ends()
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if want >= 0 {
			var n int64
			for _, e := range end {
				n += e
			}
			if n >= int64(want) {
				break
			}
			end = ends()
			continue
		}
		again := ends()
		if slices.Equal(again, end) {
			break
		}
		end = again
	}
	out, err := readTo(ctx, broker, topic, end)
	if err != nil {
		tb.Fatalf("read back: %v", err)
	}
	return out
}

// ReadAll returns every message of the topic's queues up to their ends
// now, per queue in queue order, without waiting for more.
func ReadAll(ctx context.Context, broker, topic string, queues int) ([][]*primitive.MessageExt, error) {
	ends, err := Ends(ctx, broker, topic, queues)
	if err != nil {
		return nil, err
	}
	return readTo(ctx, broker, topic, ends)
}

// readTo reads each queue q from offset 0 up to ends[q].
func readTo(ctx context.Context, broker, topic string, ends []int64) ([][]*primitive.MessageExt, error) {
	out := make([][]*primitive.MessageExt, len(ends))
	for q, end := range ends {
		msgs, err := ReadQueue(ctx, broker, topic, q, end)
		if err != nil {
			return nil, err
		}
		out[q] = msgs
	}
	return out, nil
}
