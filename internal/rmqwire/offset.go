package rmqwire

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// MaxOffset asks the broker at addr for one past the last message of a
// queue.
func MaxOffset(ctx context.Context, addr string, creds Credentials, topic string, queue int, timeout time.Duration) (int64, error) {
	return queueOffset(ctx, addr, creds, CodeGetMaxOffset, topic, queue, timeout)
}

// MinOffset asks the broker at addr for the offset of the first message
// of a queue it still stores.
func MinOffset(ctx context.Context, addr string, creds Credentials, topic string, queue int, timeout time.Duration) (int64, error) {
	return queueOffset(ctx, addr, creds, CodeGetMinOffset, topic, queue, timeout)
}

func queueOffset(ctx context.Context, addr string, creds Credentials, code int, topic string, queue int, timeout time.Duration) (int64, error) {
	resp, err := OneCall(ctx, addr, creds, code, map[string]string{"topic": topic, "queueId": strconv.Itoa(queue)}, timeout)
	if err != nil {
		return 0, err
	}
	if resp.Code != RespSuccess {
		return 0, fmt.Errorf("offset of %s/%d on %s: %w", topic, queue, addr, refused(resp))
	}
	off, ok := resp.Int("offset")
	if !ok {
		return 0, fmt.Errorf("offset of %s/%d on %s: %w: offset %q", topic, queue, addr, ErrFrame, resp.ExtFields["offset"])
	}
	return off, nil
}
