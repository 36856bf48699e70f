package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/rmqwire"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/internal/testbed/rocketmqtest"
	"github.com/ferryhq/ferry/state"
	ferryworker "github.com/ferryhq/ferry/worker"
)

// runRMQWorker starts an in-memory worker with every plugin.
func runRMQWorker(t *testing.T) *ferryworker.Standalone {
	t.Helper()
	w, err := ferryworker.New(ferryworker.Config{WorkerID: "w", Store: state.NewMemory(), Registry: registry(),
		CommitInterval: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker Run: %v", err)
		}
	})
	return w
}

// TestRocketMQSourceBadInput: a name server that does not answer leaves
// the task RUNNING with health retrying and the address in its last
// error; a filter.sql that cannot be an expression is refused naming the
// field, before anything is dialled.
func TestRocketMQSourceBadInput(t *testing.T) {
	t.Parallel()
	w := runRMQWorker(t)
	ctx := context.Background()
	_, err := w.CreateConnector(ctx, "rmq-sql", map[string]string{"source": "rocketmq", "source.nameservers": "127.0.0.1:1",
		"source.topic": "t", "source.filter.sql": "(a > 1", "sink": "drop"}, state.TargetRunning)
	var ve *api.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "source.filter.sql" {
		t.Errorf("bad filter.sql: %v, want one field error on source.filter.sql", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if _, err := w.CreateConnector(ctx, "rmq-down", map[string]string{"source": "rocketmq", "source.nameservers": addr,
		"source.topic": "t", "sink": "drop", "errors.retry.timeout": "-1", "errors.retry.delay.max.ms": "100"}, state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	var ts ferryworker.TaskStateInfo
	waitFor(t, "task retrying", 20*time.Second, func() bool {
		ts, _ = w.TaskStatus(ctx, "rmq-down", 0)
		return ts.Health == ferryworker.HealthRetrying
	})
	if ts.State != "RUNNING" || !strings.Contains(ts.LastError, addr) {
		t.Errorf("status %+v: want RUNNING, retrying, with %s in the last error", ts, addr)
	}
}

// TestRocketMQSourceToFile runs RocketMQ → Ferry → file with two tasks
// over an 8-queue topic: every message arrives once, the committed
// positions reach Ferry's offsets and the group's broker-side offsets,
// and each task's status shows its queues' lag.
func TestRocketMQSourceToFile(t *testing.T) {
	t.Parallel()
	namesrv, broker := testbed.RocketMQ(t), testbed.RocketMQBroker(t)
	topic := rocketmqtest.Topic(t, "ferry-src-e2e", 8)
	const n = 400
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := rmqwire.Dial(ctx, broker, rmqwire.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		resp, err := c.Call(ctx, 10, map[string]string{"producerGroup": "ferry-e2e", "topic": topic, "defaultTopic": "TBW102",
			"defaultTopicQueueNums": "4", "queueId": strconv.Itoa(i % 8), "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
			"flag": "0", "properties": "KEYS\x01k" + strconv.Itoa(i%16) + "\x02", "reconsumeTimes": "0", "unitMode": "false", "batch": "false"},
			fmt.Appendf(nil, `{"seq":%d}`, i), 10*time.Second)
		if err != nil || resp.Code != 0 {
			t.Fatalf("send %d: %v %v", i, err, resp)
		}
	}
	c.Close()

	out := filepath.Join(t.TempDir(), "out.jsonl")
	w := runRMQWorker(t)
	group := "ferry-e2e-" + topic
	if _, err := w.CreateConnector(ctx, "rmq-file", map[string]string{"source": "rocketmq", "source.nameservers": namesrv,
		"source.topic": topic, "source.group": group, "source.group.commit.interval": "100ms", "source.pull.hold": "500ms",
		"tasks.max": "2", "sink": "file", "sink.path": out}, state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	lines := func() []string {
		f, err := os.Open(out)
		if err != nil {
			return nil
		}
		defer f.Close()
		var ls []string
		for sc := bufio.NewScanner(f); sc.Scan(); {
			ls = append(ls, sc.Text())
		}
		return ls
	}
	waitFor(t, "all messages in the file", 30*time.Second, func() bool { return len(lines()) >= n })
	seen := map[string]bool{}
	for _, l := range lines() {
		seen[l] = true
	}
	if len(lines()) != n || len(seen) != n {
		t.Errorf("file has %d lines, %d distinct; want %d", len(lines()), len(seen), n)
	}
	waitFor(t, "group offsets at the end of every queue", 20*time.Second, func() bool {
		for q := range 8 {
			resp, err := rmqwire.OneCall(ctx, broker, rmqwire.Credentials{}, rmqwire.CodeQueryConsumerOffset,
				map[string]string{"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(q), "setZeroIfNotFound": "false"}, 5*time.Second)
			if err != nil || resp.Code != 0 {
				return false
			}
			if off, _ := resp.Int("offset"); off != n/8 {
				return false
			}
		}
		return true
	})
	offs, err := w.Offsets(ctx, "rmq-file")
	if err != nil || len(offs.Offsets) != 8 {
		t.Errorf("Ferry's offsets: %+v %v; want 8 queues", offs, err)
	}
	lagged := 0
	for task := range 2 {
		ts, _ := w.TaskStatus(ctx, "rmq-file", task)
		for q, l := range ts.Lag {
			lagged++
			if l != 0 || !strings.HasPrefix(q, topic+"/") {
				t.Errorf("task %d lag %s = %d", task, q, l)
			}
		}
	}
	if lagged != 8 {
		t.Errorf("lag shown for %d queues, want 8", lagged)
	}
}

// TestRocketMQReplication copies an 8-queue topic to another topic with
// two tasks, rocketmq source → rocketmq sink (body=binary, the tag taken
// from the source message's): every message arrives once, each key's
// messages in the order they were sent, with their keys, tags and user
// properties (as CE_<name> properties, binary mode's form).
func TestRocketMQReplication(t *testing.T) {
	t.Parallel()
	namesrv, broker := testbed.RocketMQ(t), testbed.RocketMQBroker(t)
	from, to := rocketmqtest.Topic(t, "ferry-repl-from", 8), rocketmqtest.Topic(t, "ferry-repl-to", 8)
	const n, keys = 600, 30
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := rmqwire.Dial(ctx, broker, rmqwire.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		k := i % keys
		props := fmt.Sprintf("KEYS\x01key%d\x02SHARDING_KEY\x01key%d\x02TAGS\x01tag%d\x02region\x01r%d\x02", k, k, i%3, i%2)
		resp, err := c.Call(ctx, 10, map[string]string{"producerGroup": "ferry-repl", "topic": from, "defaultTopic": "TBW102",
			"defaultTopicQueueNums": "4", "queueId": strconv.Itoa(k % 8), "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
			"flag": "0", "properties": props, "reconsumeTimes": "0", "unitMode": "false", "batch": "false"},
			fmt.Appendf(nil, `{"key":"key%d","seq":%d}`, k, i), 10*time.Second)
		if err != nil || resp.Code != 0 {
			t.Fatalf("send %d: %v %v", i, err, resp)
		}
	}
	c.Close()

	w := runRMQWorker(t)
	if _, err := w.CreateConnector(ctx, "rmq-repl", map[string]string{"source": "rocketmq", "source.nameservers": namesrv,
		"source.topic": from, "source.pull.hold": "500ms", "tasks.max": "2",
		"sink": "rocketmq", "sink.nameservers": namesrv, "sink.topic": to, "sink.body": "binary",
		"sink.tag.form": "JSONPATH", "sink.tag.value": "$.rocketmqtag"}, state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	queues := rocketmqtest.ReadQueues(t, broker, to, 8, n)
	got, last := 0, map[string]int{}
	for _, q := range queues {
		for _, m := range q {
			got++
			var d struct {
				Key string `json:"key"`
				Seq int    `json:"seq"`
			}
			if err := json.Unmarshal(m.Body, &d); err != nil {
				t.Fatalf("body %q: %v", m.Body, err)
			}
			if prev, ok := last[d.Key]; ok && d.Seq <= prev {
				t.Errorf("key %s: seq %d after %d", d.Key, d.Seq, prev)
			}
			last[d.Key] = d.Seq
			if tag := m.GetTags(); tag != "tag"+strconv.Itoa(d.Seq%3) {
				t.Errorf("seq %d: tag %q", d.Seq, tag)
			}
			if ks := m.GetKeys(); !strings.HasPrefix(ks, d.Key+" ") {
				t.Errorf("seq %d: keys %q, want %s first", d.Seq, ks, d.Key)
			}
			if r := m.GetProperty("CE_region"); r != "r"+strconv.Itoa(d.Seq%2) {
				t.Errorf("seq %d: CE_region %q", d.Seq, r)
			}
		}
	}
	if got != n || len(last) != keys {
		t.Errorf("target holds %d messages over %d keys, want %d over %d", got, len(last), n, keys)
	}
}
