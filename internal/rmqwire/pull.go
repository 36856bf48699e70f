package rmqwire

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// HoldSlack is added to a held pull's hold for how long to wait for its
// answer: the broker checks held requests only every 5 s, so it may
// answer up to then after the hold ends.
const HoldSlack = 15 * time.Second

// Pull is a PULL_MESSAGE request: up to Max messages of a queue from
// Offset, on behalf of Group (which keeps no offset: the request commits
// none), held at the queue's end for up to Hold (long polling; zero
// answers at once). The subscription travels in the request: Subscription
// is an expression of ExpressionType, every message ("*", "TAG") when
// both are empty; SubVersion is "0" when empty.
type Pull struct {
	Group, Topic   string
	Queue          int
	Offset         int64
	Max            int
	Hold           time.Duration
	Subscription   string
	ExpressionType string
	SubVersion     string
}

// Ext is the request's ext fields.
func (p Pull) Ext() map[string]string {
	flags := PullFlagSubscription
	if p.Hold > 0 {
		flags |= PullFlagSuspend
	}
	sub, typ, ver := p.Subscription, p.ExpressionType, p.SubVersion
	if sub == "" && typ == "" {
		sub, typ = "*", "TAG"
	}
	if ver == "" {
		ver = "0"
	}
	return map[string]string{
		"consumerGroup":        p.Group,
		"topic":                p.Topic,
		"queueId":              strconv.Itoa(p.Queue),
		"queueOffset":          strconv.FormatInt(p.Offset, 10),
		"maxMsgNums":           strconv.Itoa(p.Max),
		"sysFlag":              strconv.Itoa(flags),
		"commitOffset":         "0",
		"suspendTimeoutMillis": strconv.FormatInt(p.Hold.Milliseconds(), 10),
		"subscription":         sub,
		"subVersion":           ver,
		"expressionType":       typ,
	}
}

// PullResult is a pull's answer.
type PullResult struct {
	// Body holds the messages found, in the broker's message encoding
	// (rocketmq-client-go's primitive.DecodeMessage reads it); empty when
	// none were.
	Body []byte
	// Next is where to pull next; Min and Max are the queue's first
	// stored offset and one past its last. An answer without them (the
	// broker asked for an immediate retry) leaves Next at the request's
	// offset and Min and Max at 0.
	Next, Min, Max int64
	// Moved reports that the offset asked for is no longer (or not yet)
	// in the queue: Next is where the broker says reading continues.
	Moved bool
}

// Pull sends p and waits for its answer for p.Hold plus HoldSlack, or
// until ctx ends. Messages found, none yet (the hold ended) and a moved
// offset are results; any other answer is a *RefusedError.
func (c *Conn) Pull(ctx context.Context, p Pull) (PullResult, error) {
	resp, err := c.Call(ctx, CodePullMessage, p.Ext(), nil, p.Hold+HoldSlack)
	if err != nil {
		return PullResult{}, err
	}
	return pullResult(p, resp)
}

func pullResult(p Pull, resp *Command) (PullResult, error) {
	res := PullResult{Next: p.Offset}
	if next, ok := resp.Int("nextBeginOffset"); ok {
		res.Next = next
		res.Min, _ = resp.Int("minOffset")
		res.Max, _ = resp.Int("maxOffset")
	}
	switch resp.Code {
	case RespSuccess:
		res.Body = resp.Body
	case RespPullNotFound, RespPullRetryImmediately:
	case RespPullOffsetMoved:
		res.Moved = true
	default:
		return PullResult{}, fmt.Errorf("pull %s/%d at %d: %w", p.Topic, p.Queue, p.Offset, refused(resp))
	}
	return res, nil
}
