package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferryhq/ferry/internal/rmqwire"
)

// The store speaks RocketMQ's remoting protocol through internal/rmqwire
// for the calls rocketmq-client-go cannot make the way it needs them: the
// library's pull holds a request at a queue's end for 20 s and ignores
// ctx (so a store could not close promptly), it exposes no queue max/min
// offset, and its admin CreateTopic discards the broker's answer. Sends
// stay on the library's producer. This file maps rmqwire's answers onto
// the store's errors: a topic that is missing or cannot be created is
// ErrTopic, any other failed exchange ErrBroker, and the end of ctx
// passes through as it is.

// defaultRequestTimeout bounds one request that is not a held pull.
const defaultRequestTimeout = 5 * time.Second

func wireCreds(c Credentials) rmqwire.Credentials {
	return rmqwire.Credentials{AccessKey: c.AccessKey, SecretKey: c.SecretKey}
}

// brokerErr marks a failed exchange as ErrBroker; nil and the end of a
// ctx are returned as they are.
func brokerErr(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrBroker, err)
}

func dial(ctx context.Context, addr string, creds rmqwire.Credentials) (*rmqwire.Conn, error) {
	c, err := rmqwire.Dial(ctx, addr, creds)
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %v", ErrBroker, addr, err)
	}
	return c, nil
}

// nameServers are asked in turn until one answers.
type nameServers struct {
	addrs []string
	creds rmqwire.Credentials
}

// route returns a topic's route, or an error wrapping ErrTopic when the
// name server does not know the topic.
func (n nameServers) route(ctx context.Context, topic string) (rmqwire.Route, error) {
	r, err := rmqwire.TopicRoute(ctx, n.addrs, n.creds, topic, defaultRequestTimeout)
	if errors.Is(err, rmqwire.ErrTopicNotExist) {
		return r, fmt.Errorf("%w: %w", ErrTopic, err)
	}
	return r, brokerErr(err)
}

// masters returns every master broker of the name servers' clusters
// (brokerName → address), optionally only those of one broker cluster.
func (n nameServers) masters(ctx context.Context, cluster string) (map[string]string, error) {
	m, err := rmqwire.Masters(ctx, n.addrs, n.creds, cluster, defaultRequestTimeout)
	return m, brokerErr(err)
}

// createTopic asks one broker to create (or update) a topic with n queues;
// a broker that refuses is ErrTopic.
func createTopic(ctx context.Context, addr string, creds rmqwire.Credentials, topic string, n int) error {
	err := rmqwire.CreateTopic(ctx, addr, creds, rmqwire.Topic{Name: topic, Queues: n}, defaultRequestTimeout)
	if refused := (*rmqwire.RefusedError)(nil); errors.As(err, &refused) {
		return fmt.Errorf("%w: %w", ErrTopic, err)
	}
	return brokerErr(err)
}

// queueOffset asks a broker for a queue's max (one past the last message)
// or min (first message still stored) offset.
func queueOffset(ctx context.Context, addr string, creds rmqwire.Credentials, topic string, queue int32, max bool) (int64, error) {
	ask := rmqwire.MinOffset
	if max {
		ask = rmqwire.MaxOffset
	}
	off, err := ask(ctx, addr, creds, topic, int(queue), defaultRequestTimeout)
	return off, brokerErr(err)
}

// pullResult is one pull's answer: the messages found, where to pull
// next, and whether the requested offset was no longer (or not yet) valid.
type pullResult struct {
	msgs      []*primitive.MessageExt
	next      int64
	minOffset int64
	maxOffset int64
	moved     bool // the broker moved the offset: the one asked for is gone
}

// pull reads up to max messages of a queue from an explicit offset on c.
// At the queue's end the broker holds the request up to hold (long
// polling), so a new message is seen as soon as it is stored.
func pull(ctx context.Context, c *rmqwire.Conn, group, topic string, queue int32, from int64, max int, hold time.Duration) (pullResult, error) {
	res, err := c.Pull(ctx, rmqwire.Pull{Group: group, Topic: topic, Queue: int(queue), Offset: from, Max: max, Hold: hold})
	if err != nil {
		return pullResult{}, brokerErr(err)
	}
	out := pullResult{next: res.Next, minOffset: res.Min, maxOffset: res.Max, moved: res.Moved}
	if len(res.Body) > 0 {
		out.msgs = primitive.DecodeMessage(res.Body)
	}
	return out, nil
}
