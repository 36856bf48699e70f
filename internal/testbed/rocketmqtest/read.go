package rocketmqtest

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// Tests read topics back over RocketMQ's remoting protocol directly, with
// one short-lived connection per request and no consumer group state: the
// library's pull consumer holds a pull at a queue's end for 20 s and leaves
// goroutines behind, which leak checks would see.

// command is a remoting frame's JSON header, and the body after it.
type command struct {
	Code      int               `json:"code"`
	Language  string            `json:"language"`
	Version   int               `json:"version"`
	Opaque    int32             `json:"opaque"`
	Flag      int               `json:"flag"`
	Remark    string            `json:"remark,omitempty"`
	ExtFields map[string]string `json:"extFields,omitempty"`
	body      []byte
}

// Request codes of the remoting protocol.
const (
	codePullMessage  = 11
	codeGetMaxOffset = 30
)

var opaque atomic.Int32

// call sends one request to the broker at addr and returns its response.
func call(ctx context.Context, addr string, code int, ext map[string]string) (*command, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	req := command{Code: code, Language: "GO", Version: 317, Opaque: opaque.Add(1), ExtFields: ext}
	h, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(4+len(h)))
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(h)))
	if _, err := c.Write(append(frame, h...)); err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(c, 1<<16)
	for {
		var pre [8]byte
		if _, err := io.ReadFull(r, pre[:]); err != nil {
			return nil, err
		}
		total, hlen := binary.BigEndian.Uint32(pre[:4]), binary.BigEndian.Uint32(pre[4:])&0xffffff
		rest := make([]byte, total-4)
		if _, err := io.ReadFull(r, rest); err != nil {
			return nil, err
		}
		var resp command
		if err := json.Unmarshal(rest[:hlen], &resp); err != nil {
			return nil, err
		}
		resp.body = rest[hlen:]
		if resp.Flag&1 != 0 && resp.Opaque == req.Opaque {
			return &resp, nil
		}
	}
}

// MaxOffset returns one past the last message of a queue.
func MaxOffset(ctx context.Context, broker, topic string, queue int) (int64, error) {
	resp, err := call(ctx, broker, codeGetMaxOffset, map[string]string{"topic": topic, "queueId": strconv.Itoa(queue)})
	if err != nil {
		return 0, err
	}
	if resp.Code != 0 {
		return 0, fmt.Errorf("max offset %s/%d: code %d %s", topic, queue, resp.Code, resp.Remark)
	}
	return strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
}

// Pull reads up to 256 messages of a queue from off, without holding the
// request at the queue's end, and returns them with the next offset.
func Pull(ctx context.Context, broker, topic string, queue int, off int64) ([]*primitive.MessageExt, int64, error) {
	resp, err := call(ctx, broker, codePullMessage, map[string]string{
		"consumerGroup": "ferry-test-reader", "topic": topic, "queueId": strconv.Itoa(queue),
		"queueOffset": strconv.FormatInt(off, 10), "maxMsgNums": "256", "sysFlag": strconv.Itoa(1 << 2),
		"commitOffset": "0", "suspendTimeoutMillis": "0", "subscription": "*", "subVersion": "0",
		"expressionType": "TAG",
	})
	if err != nil {
		return nil, 0, err
	}
	if resp.Code != 0 {
		return nil, 0, fmt.Errorf("pull %s/%d at %d: code %d %s", topic, queue, off, resp.Code, resp.Remark)
	}
	next, _ := strconv.ParseInt(resp.ExtFields["nextBeginOffset"], 10, 64)
	return primitive.DecodeMessage(resp.body), next, nil
}

// ReadQueue returns a queue's messages from offset 0 up to end.
func ReadQueue(ctx context.Context, broker, topic string, queue int, end int64) ([]*primitive.MessageExt, error) {
	var out []*primitive.MessageExt
	for off := int64(0); off < end; {
		msgs, next, err := Pull(ctx, broker, topic, queue, off)
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
		end, err := MaxOffset(ctx, broker, topic, q)
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
	out := make([][]*primitive.MessageExt, queues)
	for q := range queues {
		msgs, err := ReadQueue(ctx, broker, topic, q, end[q])
		if err != nil {
			tb.Fatalf("read back: %v", err)
		}
		out[q] = msgs
	}
	return out
}
