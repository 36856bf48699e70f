package rocketmq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/rocketmq"
	"github.com/ferryhq/ferry/internal/rmqwire"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/internal/testbed/rocketmqtest"
)

var producerSeq atomic.Int64

// newProducer starts a producer on the test bed that sends each message
// to the queue its sharding key hashes to (or in turn without one).
func newProducer(t testing.TB, namesrv string) rmq.Producer {
	t.Helper()
	p, err := rmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{namesrv})),
		producer.WithGroupName(fmt.Sprintf("ferry-src-test-%d", producerSeq.Add(1))),
		producer.WithInstanceName(fmt.Sprintf("ferry-src-test-%d-%d", os.Getpid(), producerSeq.Add(1))),
		producer.WithQueueSelector(producer.NewHashQueueSelector()),
		producer.WithRetry(2),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

// srcTask is one source task under test.
type srcTask struct {
	api.Source
	t testing.TB
}

func newSourceTask(t testing.TB, cfg map[string]string, task, tasks int, committed map[string]api.Position) *srcTask {
	t.Helper()
	c, err := rocketmq.Source.Spec.Parse(cfg)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := rocketmq.Source.Validate(c); err != nil {
		t.Fatalf("validate: %v", err)
	}
	s, err := rocketmq.Source.New(api.TaskConfig{Connector: "rmq-src-test", Task: task, Tasks: tasks, Config: c,
		Committed: committed, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	return &srcTask{Source: s, t: t}
}

func openSource(t testing.TB, cfg map[string]string, task, tasks int, committed map[string]api.Position) *srcTask {
	t.Helper()
	s := newSourceTask(t, cfg, task, tasks, committed)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// readN reads until n records arrived or d passed, and returns them.
func (s *srcTask) readN(n int, d time.Duration) []api.Record {
	s.t.Helper()
	var out []api.Record
	deadline := time.Now().Add(d)
	for len(out) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		recs, err := s.Read(ctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.t.Fatalf("read: %v", err)
		}
		out = append(out, recs...)
	}
	return out
}

// committedOf is what the engine would commit after every record was
// written: the last position of each partition.
func committedOf(recs []api.Record) map[string]api.Position {
	out := map[string]api.Position{}
	for _, r := range recs {
		out[r.Partition] = r.Position
	}
	return out
}

// msg is one message sendRaw stores.
type msg struct {
	queue int
	body  string
	props map[string]string
}

// sendRaw stores messages on the test bed's broker with SEND_MESSAGE
// requests on one connection, each to the queue it names, and returns
// each one's queue offset. It starts no goroutine (the library's producer
// leaves some behind, which the conformance kit's leak check would see).
func sendRaw(t testing.TB, topic string, msgs ...msg) []int64 {
	t.Helper()
	broker := testbed.RocketMQBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := rmqwire.Dial(ctx, broker, rmqwire.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		var props strings.Builder
		for _, k := range slices.Sorted(maps.Keys(m.props)) {
			props.WriteString(k + "\x01" + m.props[k] + "\x02")
		}
		resp, err := c.Call(ctx, 10, map[string]string{
			"producerGroup": "ferry-src-test", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
			"queueId": strconv.Itoa(m.queue), "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
			"flag": "0", "properties": props.String(), "reconsumeTimes": "0", "unitMode": "false", "batch": "false",
		}, []byte(m.body), 10*time.Second)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if resp.Code != 0 {
			t.Fatalf("send %d: %s", i, resp.Err())
		}
		out[i], _ = resp.Int("queueOffset")
	}
	return out
}

// keyed makes n messages over keys keys into queues queues: key
// k<i%keys> in the queue its FNV hash picks, body {"key":…,"seq":i}, tag
// tag<i%3>, keys and sharding key the key, a property n=<i>.
func keyed(n, keys, queues int) []msg {
	out := make([]msg, n)
	for i := range out {
		k := "k" + strconv.Itoa(i%keys)
		h := fnv.New32a()
		h.Write([]byte(k))
		out[i] = msg{queue: int(h.Sum32() % uint32(queues)), body: fmt.Sprintf(`{"key":%q,"seq":%d}`, k, i),
			props: map[string]string{"KEYS": k, "SHARDING_KEY": k, "TAGS": "tag" + strconv.Itoa(i%3), "n": strconv.Itoa(i)}}
	}
	return out
}

// seqs returns the seq field of each record's JSON data, by key, in order.
func seqs(t testing.TB, recs []api.Record) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	for _, r := range recs {
		var d struct {
			Key string `json:"key"`
			Seq int    `json:"seq"`
		}
		if err := json.Unmarshal(r.Event.Data, &d); err != nil {
			t.Fatalf("record %s: %v", r.Event.ID, err)
		}
		out[d.Key] = append(out[d.Key], d.Seq)
	}
	return out
}

func srcConfig(namesrv, topic string, kv ...string) map[string]string {
	cfg := map[string]string{"nameservers": namesrv, "topic": topic, "group": "g-" + topic, "pull.hold": "500ms"}
	for i := 0; i < len(kv); i += 2 {
		cfg[kv[i]] = kv[i+1]
	}
	return cfg
}

// TestSourceConformance runs the conformance kit over a 4-queue topic,
// also split over two tasks (each queue read by exactly one).
func TestSourceConformance(t *testing.T) {
	namesrv := testbed.RocketMQ(t)
	topic := rocketmqtest.Topic(t, "ferry-src-conf", 4)
	apitest.RunSource(t, apitest.SourceCase{
		Plugin:  rocketmq.Source,
		Config:  srcConfig(namesrv, topic, "batch.size", "7"),
		Prepare: func(t testing.TB) { sendRaw(t, topic, keyed(40, 8, 4)...) },
		Expect:  40,
		Tasks:   2,
	})
}

// TestSourceTwoTasks reads an 8-queue topic with two tasks: every queue
// is read by exactly one of them, every message arrives once, and each
// key's messages arrive in the order they were sent. Then the topic grows
// to 12 queues: the new queues are picked up, each by one task, from
// their first message.
func TestSourceTwoTasks(t *testing.T) {
	t.Parallel()
	namesrv, broker := testbed.RocketMQ(t), testbed.RocketMQBroker(t)
	topic := rocketmqtest.Topic(t, "ferry-src-tasks", 8)
	const n, keys = 800, 40
	sendRaw(t, topic, keyed(n, keys, 8)...)
	cfg := srcConfig(namesrv, topic, "metadata.refresh.interval", "1s")
	a, b := openSource(t, cfg, 0, 2, nil), openSource(t, cfg, 1, 2, nil)
	ra, rb := readBoth(a, b, n, 30*time.Second)
	checkSplit(t, ra, rb, n)
	got := seqs(t, append(slices.Clone(ra), rb...))
	for k, s := range got {
		if !slices.IsSorted(s) {
			t.Errorf("key %s out of order: %v", k, s)
		}
	}
	if len(got) != keys {
		t.Errorf("%d keys, want %d", len(got), keys)
	}

	// 12 queues: the four new ones are read from their start.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := rmqwire.OneCall(ctx, broker, rmqwire.Credentials{}, 17, map[string]string{
		"topic": topic, "defaultTopic": "TBW102", "readQueueNums": "12", "writeQueueNums": "12", "perm": "6",
		"topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"}, 10*time.Second)
	if err != nil || resp.Code != 0 {
		t.Fatalf("grow the topic: %v %v", err, resp)
	}
	var more []msg
	for q := range 12 {
		more = append(more, msg{queue: q, body: fmt.Sprintf(`{"key":"q%d","seq":%d}`, q, q)})
	}
	sendRaw(t, topic, more...)
	ma, mb := readBoth(a, b, 12, 30*time.Second)
	checkSplit(t, ma, mb, 12)
}

// readBoth reads from two tasks in turn, half a second each, until they
// hold n records between them or d has passed: each task's records stay
// its own whichever queues it owns and however long it takes to find
// them.
func readBoth(a, b *srcTask, n int, d time.Duration) (ra, rb []api.Record) {
	deadline := time.Now().Add(d)
	for len(ra)+len(rb) < n && time.Now().Before(deadline) {
		ra = append(ra, a.readN(n-len(ra)-len(rb), 500*time.Millisecond)...)
		if len(ra)+len(rb) < n {
			rb = append(rb, b.readN(n-len(ra)-len(rb), 500*time.Millisecond)...)
		}
	}
	return ra, rb
}

// checkSplit checks that two tasks' records hold n messages, each once,
// and share no queue.
func checkSplit(t *testing.T, ra, rb []api.Record, n int) {
	t.Helper()
	ids := map[string]bool{}
	qa, qb := map[string]bool{}, map[string]bool{}
	for _, r := range ra {
		qa[r.Partition] = true
		ids[r.Event.ID] = true
	}
	for _, r := range rb {
		qb[r.Partition] = true
		ids[r.Event.ID] = true
	}
	if len(ra)+len(rb) != n || len(ids) != n {
		t.Errorf("tasks read %d + %d records, %d distinct, want %d", len(ra), len(rb), len(ids), n)
	}
	for q := range qa {
		if qb[q] {
			t.Errorf("queue %s read by both tasks", q)
		}
	}
	if len(qa) == 0 || len(qb) == 0 {
		t.Errorf("queues per task: %d and %d; want both to own some", len(qa), len(qb))
	}
	t.Logf("task 0 read %d records from %d queues, task 1 %d from %d", len(ra), len(qa), len(rb), len(qb))
}

// groupOffset is the group's broker-side offset of a queue, -1 for none.
func groupOffset(t testing.TB, group, topic string, queue int) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := rmqwire.OneCall(ctx, testbed.RocketMQBroker(t), rmqwire.Credentials{}, rmqwire.CodeQueryConsumerOffset,
		map[string]string{"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(queue), "setZeroIfNotFound": "false"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != 0 {
		return -1
	}
	off, _ := resp.Int("offset")
	return off
}

// TestSourceResumeAndGroupOffsets reads part of a topic, commits, stops,
// and resumes from the committed positions with nothing lost or doubled;
// the committed positions reach the group's offsets, and lag counts what
// is left.
func TestSourceResumeAndGroupOffsets(t *testing.T) {
	t.Parallel()
	namesrv := testbed.RocketMQ(t)
	topic := rocketmqtest.Topic(t, "ferry-src-resume", 2)
	sendRaw(t, topic, keyed(100, 10, 2)...)
	cfg := srcConfig(namesrv, topic, "batch.size", "10", "group.commit.interval", "100ms")
	s := newSourceTask(t, cfg, 0, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	first := s.readN(30, 10*time.Second)
	lag := s.Source.(api.LagReporter).Lag()
	var left int64
	for _, l := range lag {
		left += l
	}
	if len(lag) == 0 || left <= 0 { // known for the queues pulled so far
		t.Errorf("lag after reading %d of 100: %v", len(first), lag)
	}
	committed := committedOf(first)
	s.Source.(api.CommitListener).Committed(committed)
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for name, pos := range committed {
		q, _ := strconv.Atoi(name[strings.LastIndexByte(name, '/')+1:])
		if got := groupOffset(t, "g-"+topic, topic, q); strconv.FormatInt(got, 10) != string(pos) {
			t.Errorf("group offset of %s = %d, want the committed %s", name, got, pos)
		}
	}

	r := openSource(t, cfg, 0, 1, committed)
	rest := r.readN(100-len(first), 10*time.Second)
	all := append(slices.Clone(first), rest...)
	ids := map[string]bool{}
	for _, rec := range all {
		ids[rec.Event.ID] = true
	}
	if len(all) != 100 || len(ids) != 100 {
		t.Errorf("read %d + %d records, %d distinct; want 100", len(first), len(rest), len(ids))
	}
	r.readN(1, 300*time.Millisecond) // a pull at the end reports the queues' ends
	for q, l := range r.Source.(api.LagReporter).Lag() {
		if l != 0 {
			t.Errorf("lag of %s after reading everything: %d", q, l)
		}
	}
}

// TestSourceStart checks the start modes on queues with no stored
// position: first reads everything; last reads only what comes after
// Open, also across a restart before anything was committed (the
// resolved offsets are stored in the group at once); timestamp reads
// from the first message stored at or after it.
func TestSourceStart(t *testing.T) {
	t.Parallel()
	namesrv := testbed.RocketMQ(t)
	topic := rocketmqtest.Topic(t, "ferry-src-start", 2)
	sendRaw(t, topic, msg{0, `{"n":"old0"}`, nil}, msg{1, `{"n":"old1"}`, nil})
	time.Sleep(50 * time.Millisecond)
	mark := time.Now().UnixMilli()
	time.Sleep(50 * time.Millisecond)
	sendRaw(t, topic, msg{0, `{"n":"mid0"}`, nil}, msg{1, `{"n":"mid1"}`, nil})

	data := func(recs []api.Record) []string {
		var out []string
		for _, r := range recs {
			out = append(out, string(r.Event.Data))
		}
		slices.Sort(out)
		return out
	}
	t.Run("first", func(t *testing.T) {
		s := openSource(t, srcConfig(namesrv, topic, "group", "first-"+topic), 0, 1, nil)
		if got := data(s.readN(4, 5*time.Second)); len(got) != 4 {
			t.Errorf("first read %v", got)
		}
	})
	t.Run("timestamp", func(t *testing.T) {
		s := openSource(t, srcConfig(namesrv, topic, "group", "ts-"+topic, "start", "timestamp:"+strconv.FormatInt(mark, 10)), 0, 1, nil)
		if got := data(s.readN(3, 2*time.Second)); !slices.Equal(got, []string{`{"n":"mid0"}`, `{"n":"mid1"}`}) {
			t.Errorf("timestamp read %v", got)
		}
	})
	t.Run("last", func(t *testing.T) {
		cfg := srcConfig(namesrv, topic, "group", "last-"+topic, "start", "last")
		s := newSourceTask(t, cfg, 0, 1, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Open(ctx); err != nil {
			t.Fatal(err)
		}
		// Stopped before anything arrived or was committed; a message
		// sent meanwhile is read after the restart.
		_ = s.Close(ctx)
		sendRaw(t, topic, msg{0, `{"n":"new0"}`, nil})
		r := openSource(t, cfg, 0, 1, nil)
		sendRaw(t, topic, msg{1, `{"n":"new1"}`, nil})
		if got := data(r.readN(3, 2*time.Second)); !slices.Equal(got, []string{`{"n":"new0"}`, `{"n":"new1"}`}) {
			t.Errorf("last read %v", got)
		}
	})
}

// TestSourceTagFilter reads only the messages whose tag the expression
// names.
func TestSourceTagFilter(t *testing.T) {
	t.Parallel()
	namesrv := testbed.RocketMQ(t)
	topic := rocketmqtest.Topic(t, "ferry-src-tag", 2)
	sendRaw(t, topic, keyed(60, 6, 2)...)
	s := openSource(t, srcConfig(namesrv, topic, "filter.tag", "tag0 || tag2"), 0, 1, nil)
	recs := s.readN(60, 2*time.Second)
	if len(recs) != 40 {
		t.Errorf("read %d records, want the 40 tagged tag0 or tag2", len(recs))
	}
	for _, r := range recs {
		if tag := r.Event.Extensions[rocketmq.ExtTag]; tag != "tag0" && tag != "tag2" {
			t.Errorf("record %s has tag %v", r.Event.ID, tag)
		}
	}
}

// TestSourceFilteredMessagesMove: messages the filter drops count as
// consumed. Queue 0 holds only messages the filter drops, queue 1 records
// and then such messages. The last record's position skips the dropped
// messages its pull scanned. Once the records are committed both queues
// show no lag, in Ferry and in the group's offsets (RocketMQ's tools),
// and a restart starts queue 0 after its messages; queue 1 resumes at its
// committed position, and its dropped tail brings no record.
func TestSourceFilteredMessagesMove(t *testing.T) {
	t.Parallel()
	namesrv := testbed.RocketMQ(t)
	topic := rocketmqtest.Topic(t, "ferry-src-filtered", 2)
	var first []msg
	for i := range 20 {
		first = append(first, msg{0, fmt.Sprintf(`{"n":%d}`, i), map[string]string{"TAGS": "skip"}})
	}
	for i := range 8 {
		tag := "keep"
		if i >= 5 {
			tag = "skip"
		}
		first = append(first, msg{1, fmt.Sprintf(`{"n":%d}`, i), map[string]string{"TAGS": tag}})
	}
	sendRaw(t, topic, first...)
	cfg := srcConfig(namesrv, topic, "filter.tag", "keep", "group.commit.interval", "100ms", "pull.batch.size", "4")
	s := newSourceTask(t, cfg, 0, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	recs := s.readN(5, 10*time.Second)
	if len(recs) != 5 {
		t.Fatalf("read %d records, want the 5 tagged keep", len(recs))
	}
	committed := committedOf(recs)
	q1 := recs[0].Partition
	if p := string(committed[q1]); p != "8" {
		t.Errorf("position of the last record of %s = %s, want 8: past the dropped messages its pull scanned", q1, p)
	}
	s.Source.(api.CommitListener).Committed(committed)
	var tail []msg
	for i := range 10 {
		tail = append(tail, msg{1, fmt.Sprintf(`{"n":%d}`, 8+i), map[string]string{"TAGS": "skip"}})
	}
	sendRaw(t, topic, tail...)
	want := map[int]int64{0: 20, 1: 18}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if more := s.readN(1, 300*time.Millisecond); len(more) > 0 {
			t.Fatalf("a message the filter drops became a record: %s", more[0].Event.ID)
		}
		moved := true
		for q, end := range want {
			moved = moved && groupOffset(t, "g-"+topic, topic, q) == end
		}
		if moved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group offsets %d and %d, want %v: the dropped messages still count as lag in RocketMQ's tools",
				groupOffset(t, "g-"+topic, topic, 0), groupOffset(t, "g-"+topic, topic, 1), want)
		}
	}
	for q, l := range s.Source.(api.LagReporter).Lag() {
		if l != 0 {
			t.Errorf("lag of %s = %d, want 0", q, l)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	r := openSource(t, cfg, 0, 1, committed)
	pos := rocketmq.ReadPositions(r.Source)
	if q0 := strings.TrimSuffix(q1, "1") + "0"; pos[q0] != 20 || pos[q1] != 8 {
		t.Errorf("after the restart %s is read from %d and %s from %d, want 20 (after the messages the filter dropped) and 8 (the committed position): %v",
			q0, pos[q0], q1, pos[q1], pos)
	}
	if more := r.readN(1, 1500*time.Millisecond); len(more) > 0 {
		t.Errorf("after the restart a message the filter drops became a record: %s", more[0].Event.ID)
	}
	for q, l := range r.Source.(api.LagReporter).Lag() {
		if l != 0 {
			t.Errorf("after the restart lag of %s = %d, want 0", q, l)
		}
	}
}

// TestSourceSQLFilter filters by SQL92 on properties where the broker
// allows it (enablePropertyFilter=true); on a broker without it, the task
// fails with an error that says what the broker needs.
func TestSourceSQLFilter(t *testing.T) {
	t.Parallel()
	namesrv := testbed.RocketMQ(t)
	topic := rocketmqtest.Topic(t, "ferry-src-sql", 2)
	sendRaw(t, topic, keyed(30, 3, 2)...)
	s := openSource(t, srcConfig(namesrv, topic, "filter.sql", "n >= 10 AND n < 20"), 0, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var recs []api.Record
	for len(recs) < 10 {
		got, err := s.Read(ctx)
		if err != nil {
			if !api.IsFatal(err) || !strings.Contains(err.Error(), "enablePropertyFilter") {
				t.Fatalf("read with a SQL92 filter: %v; want records or a fatal error naming enablePropertyFilter", err)
			}
			// The test bed's broker filters (enablePropertyFilter=true);
			// only a broker started before that setting refuses.
			if os.Getenv("CI") != "" {
				t.Fatalf("the test bed's broker refused SQL92 filtering: %v", err)
			}
			t.Logf("broker without SQL92 filtering (restart the test bed's rocketmq): %v", err)
			return
		}
		recs = append(recs, got...)
	}
	for _, r := range recs {
		if n, _ := strconv.Atoi(r.Event.Extensions["n"].(string)); n < 10 || n >= 20 {
			t.Errorf("record with n=%d passed the filter", n)
		}
	}
}

// TestSourceBadInput: a name server that is not there is retried; a
// topic that does not exist fails the task naming it.
func TestSourceBadInput(t *testing.T) {
	t.Parallel()
	namesrv := testbed.RocketMQ(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	s := newSourceTask(t, srcConfig(closed, "ferry-src-nowhere"), 0, 1, nil)
	if err := s.Open(ctx); err == nil || !api.IsRetryable(err) || !strings.Contains(err.Error(), closed) {
		t.Errorf("Open with no name server = %v, want a retryable error naming %s", err, closed)
	}
	topic := fmt.Sprintf("ferry-src-missing-%d", time.Now().UnixNano())
	s = newSourceTask(t, srcConfig(namesrv, topic), 0, 1, nil)
	if err := s.Open(ctx); err == nil || !api.IsFatal(err) || !strings.Contains(err.Error(), topic) {
		t.Errorf("Open of a missing topic = %v, want a fatal error naming it", err)
	}
	_, err = rocketmq.Source.New(api.TaskConfig{Connector: "c", Tasks: 1, Config: mustParse(t, srcConfig(namesrv, "t")),
		Committed: map[string]api.Position{"t/b/0": api.Position("x")}})
	if err == nil || !api.IsFatal(err) {
		t.Errorf("New with a corrupt stored position = %v, want a fatal error", err)
	}
}

func mustParse(t testing.TB, cfg map[string]string) api.Config {
	t.Helper()
	c, err := rocketmq.Source.Spec.Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSourceValidate feeds hostile values to every bounded field: each is
// refused naming the field.
func TestSourceValidate(t *testing.T) {
	t.Parallel()
	base := func(kv ...string) map[string]string {
		c := map[string]string{"nameservers": "127.0.0.1:9876", "topic": "t"}
		for i := 0; i < len(kv); i += 2 {
			c[kv[i]] = kv[i+1]
		}
		return c
	}
	many := strings.TrimSuffix(strings.Repeat("127.0.0.1:9876,", 65), ",")
	cases := []struct {
		name  string
		cfg   map[string]string
		field string // "" when valid
	}{
		{"minimal", base(), ""},
		{"everything", base("group", "g", "filter.tag", "a || b", "start", "timestamp:0", "order", "concurrent",
			"access.key", "ak", "secret.key", "sk", "pull.batch.size", "1024", "pull.hold", "1m", "batch.size", "1",
			"metadata.refresh.interval", "1h", "group.commit.interval", "100ms", "request.timeout", "100ms"), ""},
		{"no topic", map[string]string{"nameservers": "127.0.0.1:9876"}, "topic"},
		{"no nameservers", map[string]string{"topic": "t"}, "nameservers"},
		{"nameserver not host:port", base("nameservers", "localhost"), "nameservers"},
		{"65 nameservers", base("nameservers", many), "nameservers"},
		{"topic with a dot", base("topic", "a.b"), "topic"},
		{"topic too long", base("topic", strings.Repeat("t", 128)), "topic"},
		{"template topic", base("topic", "TBW102"), "topic"},
		{"group too long", base("group", strings.Repeat("g", 256)), "group"},
		{"group with a space", base("group", "a b"), "group"},
		{"empty tag", base("filter.tag", "a || "), "filter.tag"},
		{"tag filter too long", base("filter.tag", strings.Repeat("a", 4097)), "filter.tag"},
		{"too many tags", base("filter.tag", strings.Repeat("a||", 256)+"a"), "filter.tag"},
		{"sql too long", base("filter.sql", strings.Repeat("a", 4097)), "filter.sql"},
		{"sql unbalanced", base("filter.sql", "(a > 1"), "filter.sql"},
		{"sql unterminated string", base("filter.sql", "a = 'x"), "filter.sql"},
		{"sql control character", base("filter.sql", "a = 1\x00"), "filter.sql"},
		{"tag and sql", base("filter.tag", "a", "filter.sql", "b > 1"), "filter.sql"},
		{"unknown start", base("start", "earliest"), "start"},
		{"negative timestamp", base("start", "timestamp:-1"), "start"},
		{"timestamp past 9999", base("start", "timestamp:253402300800000"), "start"},
		{"timestamp not a number", base("start", "timestamp:1e3"), "start"},
		{"unknown order", base("order", "orderly"), "order"},
		{"access key alone", base("access.key", "ak"), "secret.key"},
		{"pull.batch.size 0", base("pull.batch.size", "0"), "pull.batch.size"},
		{"pull.batch.size huge", base("pull.batch.size", "1025"), "pull.batch.size"},
		{"pull.hold too short", base("pull.hold", "10ms"), "pull.hold"},
		{"pull.hold too long", base("pull.hold", "2m"), "pull.hold"},
		{"batch.size huge", base("batch.size", "99999999999"), "batch.size"},
		{"refresh too short", base("metadata.refresh.interval", "1ms"), "metadata.refresh.interval"},
		{"commit interval too long", base("group.commit.interval", "2h"), "group.commit.interval"},
		{"request timeout zero", base("request.timeout", "0s"), "request.timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := rocketmq.Source.Spec.Parse(c.cfg)
			if err == nil {
				err = rocketmq.Source.Validate(cfg)
			}
			if c.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ve *api.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v, want a validation error on %s", err, c.field)
			}
			if !slices.ContainsFunc(ve.Fields, func(f api.FieldError) bool { return f.Field == c.field }) {
				t.Errorf("error %v does not name %s", err, c.field)
			}
		})
	}
	out := rocketmq.Source.Spec.Redact(base("access.key", "ak", "secret.key", "sk"))
	if out["secret.key"] != api.Redacted || out["access.key"] != api.Redacted {
		t.Errorf("redacted: %v", out)
	}
}

func TestSourceSpecDoc(t *testing.T) {
	t.Parallel()
	apitest.CheckSpecDoc(t, "source.go", rocketmq.Source.Spec)
}

// TestSourcePositionPastEnd: a stored position beyond the queue's end
// (the topic was deleted and created again) fails the task, naming the
// queue, rather than waiting for messages that will never come there.
func TestSourcePositionPastEnd(t *testing.T) {
	t.Parallel()
	namesrv := testbed.RocketMQ(t)
	topic := rocketmqtest.Topic(t, "ferry-src-past", 1)
	sendRaw(t, topic, keyed(5, 1, 1)...)
	name := topic + "/ferry-broker-a/0"
	s := openSource(t, srcConfig(namesrv, topic), 0, 1, map[string]api.Position{name: api.Position("1000")})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := s.Read(ctx)
	if err == nil || !api.IsFatal(err) || !strings.Contains(err.Error(), name) {
		t.Errorf("Read from past the end = %v, want a fatal error naming %s", err, name)
	}
}
