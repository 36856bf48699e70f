package rocketmq_test

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

// The tests read topics back over RocketMQ's remoting protocol directly,
// with one short-lived connection per call: the library's pull consumer
// holds a pull at a queue's end for 20 s and leaves goroutines behind,
// which the conformance kit's leak check would see.

type remotingCmd struct {
	Code      int               `json:"code"`
	Language  string            `json:"language"`
	Version   int               `json:"version"`
	Opaque    int32             `json:"opaque"`
	Flag      int               `json:"flag"`
	Remark    string            `json:"remark,omitempty"`
	ExtFields map[string]string `json:"extFields,omitempty"`
	body      []byte
}

var opaque atomic.Int32

// call sends one request to addr and returns the response.
func call(ctx context.Context, addr string, code int, ext map[string]string) (*remotingCmd, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := remotingCmd{Code: code, Language: "GO", Version: 317, Opaque: opaque.Add(1), ExtFields: ext}
	h, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(4+len(h)))
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(h)))
	if _, err := c.Write(append(frame, h...)); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
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
		var resp remotingCmd
		if err := json.Unmarshal(rest[:hlen], &resp); err != nil {
			return nil, err
		}
		resp.body = rest[hlen:]
		if resp.Flag&1 != 0 && resp.Opaque == req.Opaque {
			return &resp, nil
		}
	}
}

// maxOffset returns one past the last message of a queue.
func maxOffset(ctx context.Context, broker, topic string, queue int) (int64, error) {
	resp, err := call(ctx, broker, 30, map[string]string{"topic": topic, "queueId": strconv.Itoa(queue)})
	if err != nil {
		return 0, err
	}
	if resp.Code != 0 {
		return 0, fmt.Errorf("max offset %s/%d: code %d %s", topic, queue, resp.Code, resp.Remark)
	}
	return strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
}

// pull reads up to 32 messages of a queue from off, without holding the
// request at the queue's end.
func pull(ctx context.Context, broker, topic string, queue int, off int64) ([]*primitive.MessageExt, int64, error) {
	resp, err := call(ctx, broker, 11, map[string]string{
		"consumerGroup": "ferry-rocketmq-sink-test", "topic": topic, "queueId": strconv.Itoa(queue),
		"queueOffset": strconv.FormatInt(off, 10), "maxMsgNums": "32", "sysFlag": strconv.Itoa(1 << 2),
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

// readQueues returns every message of the topic's queues, per queue in
// queue order. The broker builds its queue indexes shortly after storing
// (asynchronously), so it first waits until the queues hold want
// messages, or, with want < 0, until their ends stop moving.
func readQueues(t testing.TB, broker, topic string, queues, want int) [][]*primitive.MessageExt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends := func() []int64 {
		out := make([]int64, queues)
		for q := range out {
			end, err := maxOffset(ctx, broker, topic, q)
			if err != nil {
				t.Fatalf("read back: %v", err)
			}
			out[q] = end
		}
		return out
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
		for off := int64(0); off < end[q]; {
			msgs, next, err := pull(ctx, broker, topic, q, off)
			if err != nil {
				t.Fatalf("read back: %v", err)
			}
			if next <= off {
				t.Fatalf("read back %s/%d: offset did not advance from %d", topic, q, off)
			}
			out[q] = append(out[q], msgs...)
			off = next
		}
	}
	return out
}
