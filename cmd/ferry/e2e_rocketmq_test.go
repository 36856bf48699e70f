package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/ferryhq/ferry/internal/cputime"
	"github.com/ferryhq/ferry/internal/rmqwire"
)

// The RocketMQ → Ferry → RocketMQ and → file pipelines of issue 14 end to end through
// the real ferry binary and the test bed's RocketMQ. The size scales with
// an environment variable:
//
//	FERRY_E2E_RMQ_MESSAGES  keyed messages of TestRocketMQToRocketMQKill and TestRocketMQToFileKill (default 50000; the figure is 500000)

// r2rKeys is the number of distinct message keys; key k is stored in
// queue k mod 8 of the input topic.
const r2rKeys = 1000

// r2rPad makes each message's body about 200 bytes.
var r2rPad = strings.Repeat("x", 150)

// r2rBody is the body of message seq of key.
func r2rBody(key, seq int) string {
	return fmt.Sprintf(`{"key":"key-%d","seq":%d,"pad":"%s"}`, key, seq, r2rPad)
}

func r2rTag(seq int) string    { return "tag" + strconv.Itoa(seq%3) }
func r2rRegion(key int) string { return "r" + strconv.Itoa(key%5) }

// produceR2R stores messages [from, to) of the input: message i is seq
// i/r2rKeys of key i%r2rKeys, with the key as KEYS, a tag and a user
// property region, sent in batch messages of up to 128 per queue, each
// batch only after the previous one was stored, so each key's messages are
// stored in seq order. Sends are not retried (a retry after a timeout
// could store a batch twice and pass for a replay by Ferry): a failed send
// fails the test. They are spread over at least the duration spread.
func produceR2R(t *testing.T, p rmq.Producer, topic, broker string, from, to int, spread time.Duration) {
	const batch = 128
	start := time.Now()
	bufs := make([][]*primitive.Message, 8)
	send := func(q int) bool {
		if len(bufs[q]) == 0 {
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := p.SendSync(ctx, bufs[q]...); err != nil {
			t.Errorf("produce to queue %d: %v", q, err)
			return false
		}
		bufs[q] = bufs[q][:0]
		return true
	}
	for i := from; i < to; i++ {
		key, seq := i%r2rKeys, i/r2rKeys
		q := key % 8
		m := primitive.NewMessage(topic, []byte(r2rBody(key, seq)))
		m.WithKeys([]string{"key-" + strconv.Itoa(key)})
		m.WithTag(r2rTag(seq))
		m.WithProperty("region", r2rRegion(key))
		m.Queue = &primitive.MessageQueue{Topic: topic, BrokerName: broker, QueueId: q}
		bufs[q] = append(bufs[q], m)
		if len(bufs[q]) == batch {
			time.Sleep(time.Until(start.Add(spread * time.Duration(i-from) / time.Duration(to-from))))
			if !send(q) {
				return
			}
		}
	}
	for q := range bufs {
		if !send(q) {
			return
		}
	}
}

// newR2RProducer starts a producer that sends each message to the queue
// it names, with no retries.
func newR2RProducer(t *testing.T, namesrv string) rmq.Producer {
	t.Helper()
	p, err := rmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{namesrv})),
		producer.WithGroupName(fmt.Sprintf("ferry-r2r-%d", os.Getpid())),
		producer.WithInstanceName(fmt.Sprintf("ferry-r2r-%d-%d", os.Getpid(), time.Now().UnixNano())),
		producer.WithQueueSelector(producer.NewManualQueueSelector()),
		producer.WithRetry(0),
		producer.WithSendMsgTimeout(30*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// brokerName is the name of the broker group that holds topic.
func brokerName(t *testing.T, namesrv, topic string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	route, err := rmqwire.TopicRoute(ctx, []string{namesrv}, rmqwire.Credentials{}, topic, 5*time.Second)
	if err != nil || len(route.BrokerDatas) != 1 {
		t.Fatalf("route of %s: %+v %v; want one broker group", topic, route, err)
	}
	return route.BrokerDatas[0].BrokerName
}

// keyOrder follows each key's seqs in the order a sink wrote them: per
// key the seqs 0…n-1 in order, where a step back to an earlier seq is a
// replay (at-least-once after a kill) and a step forward past the next one
// is a loss or a reordering. Its first ten failures fail the test.
type keyOrder struct {
	t                     *testing.T
	perKey, next, highest []int
	replays, errs         int
}

func newKeyOrder(t *testing.T, perKey []int) *keyOrder {
	return &keyOrder{t: t, perKey: perKey, next: make([]int, len(perKey)), highest: make([]int, len(perKey))}
}

func (k *keyOrder) fail(format string, args ...any) {
	k.t.Helper()
	if k.errs++; k.errs <= 10 {
		k.t.Errorf(format, args...)
	}
}

// see takes the next message written of key; where says where it is.
func (k *keyOrder) see(key, seq int, where string) {
	k.t.Helper()
	switch {
	case seq == k.next[key]:
		k.next[key]++
	case seq < k.next[key]:
		k.replays++
		k.next[key] = seq + 1
	default:
		k.fail("key-%d: seq %d after %d (%s): a message lost or reordered", key, seq, k.next[key]-1, where)
		k.next[key] = seq + 1
	}
	k.highest[key] = max(k.highest[key], seq+1)
}

// done checks that every key's last seq arrived, in order, and returns
// the replays.
func (k *keyOrder) done() int {
	k.t.Helper()
	for key, n := range k.perKey {
		if k.highest[key] != n || k.next[key] != n {
			k.fail("key-%d: %d messages, last in order %d, highest %d", key, n, k.next[key], k.highest[key])
		}
	}
	return k.replays
}

// parseR2R reads a message body of produceR2R: its key and seq.
func parseR2R(body []byte, keys int) (key, seq int, err error) {
	var v struct {
		Key string `json:"key"`
		Seq int    `json:"seq"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return 0, 0, err
	}
	if _, err := fmt.Sscanf(v.Key, "key-%d", &key); err != nil || key < 0 || key >= keys {
		return 0, 0, fmt.Errorf("key %q", v.Key)
	}
	return key, v.Seq, nil
}

// r2rCheck reads the output topic and checks every message against the
// input message it copies: the same body, tag, region (as CE_region, the
// binary mode's form) and key (the first of its keys), each key in one
// queue, and per key in order apart from replays (keyOrder). It returns
// the messages read and the replays; when it returns without failing the
// test every message arrived, so read minus the input's count is the
// number of duplicates.
func r2rCheck(t *testing.T, out *rmqTopic, perKey []int) (read, replays int) {
	t.Helper()
	order := newKeyOrder(t, perKey)
	queueOf := make([]int, len(perKey))
	for i := range queueOf {
		queueOf[i] = -1
	}
	out.each(func(q int, m *primitive.MessageExt) {
		read++
		key, seq, err := parseR2R(m.Body, len(perKey))
		if err != nil {
			order.fail("%d@%d: body %.80q: %v", q, m.QueueOffset, m.Body, err)
			return
		}
		name := "key-" + strconv.Itoa(key)
		if string(m.Body) != r2rBody(key, seq) {
			order.fail("%d@%d: body %.80q, want %.80q", q, m.QueueOffset, m.Body, r2rBody(key, seq))
		}
		if tag := m.GetTags(); tag != r2rTag(seq) {
			order.fail("%s seq %d: tag %q, want %q", name, seq, tag, r2rTag(seq))
		}
		if ks := m.GetKeys(); !strings.HasPrefix(ks, name+" ") {
			order.fail("%s seq %d: keys %q, want %s first", name, seq, ks, name)
		}
		if r := m.GetProperty("CE_region"); r != r2rRegion(key) {
			order.fail("%s seq %d: CE_region %q, want %q", name, seq, r, r2rRegion(key))
		}
		if queueOf[key] == -1 {
			queueOf[key] = q
		} else if queueOf[key] != q {
			order.fail("%s in queues %d and %d", name, queueOf[key], q)
		}
		order.see(key, seq, fmt.Sprintf("queue %d offset %d", q, m.QueueOffset))
	})
	return read, order.done()
}

// settle waits until count reaches at least want and has not grown for
// quiet (replays make a count a lower bound), failing after limit. It
// returns the final count and when it last grew.
func settle(w *proc, connector, what string, count func() int64, want int64, quiet, limit time.Duration) (int64, time.Time) {
	w.t.Helper()
	last, grew := int64(-1), time.Now()
	w.waitFor(connector, limit, fmt.Sprintf("%d messages in %s", want, what), func() bool {
		if n := count(); n != last {
			last, grew = n, time.Now()
		}
		return last >= want && time.Since(grew) > quiet
	})
	return last, grew
}

// rmqKill is one RocketMQ → Ferry → sink pipeline that runRMQKill drives:
// the connector's sink settings, its task count, how many messages its
// output holds (a lower bound of what arrived, replays included) and the
// check of the output, which returns the messages read and the per-key
// replays and fails the test for a message lost, reordered or altered.
type rmqKill struct {
	name  string
	tasks int
	sink  map[string]string
	out   string // the output, for logs
	count func() int64
	check func(perKey []int) (read, replays int)
}

// runRMQKill runs the pipeline k over FERRY_E2E_RMQ_MESSAGES keyed
// messages in an 8-queue topic (produceR2R), through the real ferry
// binary, SIGKILLing the worker once half the messages are in the output
// and restarting it on its data dir. Every message must arrive (k.check);
// each task's status must then show its queues with no lag, and the REST
// API the committed position of all 8.
func runRMQKill(t *testing.T, k rmqKill) {
	messages := envInt(t, "FERRY_E2E_RMQ_MESSAGES", 50000)
	ferryBinary(t)
	in := newRMQTopic(t, "ferry-"+k.name+"-in", 8)
	broker := brokerName(t, in.namesrv, in.name)
	perKey := make([]int, r2rKeys)
	for i := range messages {
		perKey[i%r2rKeys]++
	}
	p := newR2RProducer(t, in.namesrv)

	// A third is stored before the connector starts, the rest while it
	// runs, over at least 6 s, so that the kill comes while messages
	// still arrive.
	start := time.Now()
	produceR2R(t, p, in.name, broker, 0, messages/3, 0)
	t.Logf("input: %d messages stored before the connector starts in %s", messages/3, time.Since(start).Round(time.Millisecond))

	dir, addr := filepath.Join(t.TempDir(), "worker"), freeAddr(t)
	victim := startWorker(t, dir, addr)
	name := k.name
	group := "ferry-" + k.name + "-" + in.name
	cpu0 := cputime.Self()
	created := time.Now()
	victim.createConnector(name, merge(k.sink, map[string]string{
		"source": "rocketmq", "source.nameservers": in.namesrv, "source.topic": in.name, "source.group": group,
		"source.group.commit.interval": "1s", "tasks.max": strconv.Itoa(k.tasks),
		"offset.flush.interval.ms": "500",
	}))
	produced := make(chan time.Duration, 1)
	producing := make(chan struct{})
	t.Cleanup(func() { <-producing; _ = p.Shutdown() })
	go func() {
		defer close(producing)
		produceR2R(t, p, in.name, broker, messages/3, messages, 6*time.Second)
		produced <- time.Since(created)
	}()
	victim.waitFor(name, 10*time.Minute, "half of the messages in the output", func() bool {
		return k.count() >= int64(messages/2)
	})
	victimCPU := procCPU(t, victim.cmd.Process.Pid)
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	killed := time.Now()
	atKill := k.count()
	t.Logf("worker SIGKILLed %s after the connector was created, with %d of %d messages in the output (%.0f messages/s so far)",
		killed.Sub(created).Round(100*time.Millisecond), atKill, messages, float64(atKill)/killed.Sub(created).Seconds())
	if atKill >= int64(messages) {
		t.Fatalf("the kill came after the whole stream was through: nothing tested")
	}
	restarted := startWorker(t, dir, addr)
	rss := sampleRSS(restarted.cmd.Process.Pid)
	n, grew := settle(restarted, name, k.out, k.count, int64(messages), 3*time.Second, 15*time.Minute)
	peak := rss.Stop()
	produceTime := <-produced
	took := grew.Sub(created)
	workerCPU := victimCPU + procCPU(t, restarted.cmd.Process.Pid)
	t.Logf("input: %d messages over %d keys and 8 queues, the last stored %s after the connector was created",
		messages, r2rKeys, produceTime.Round(100*time.Millisecond))
	t.Logf("output: %d messages %s after the connector was created, kill and restart included: %.0f messages/s; worker CPU %s (%.0f%% of one core), peak RSS after the restart %.0f MB, load average %s, test process CPU %s",
		n, took.Round(100*time.Millisecond), float64(messages)/took.Seconds(), workerCPU.Round(10*time.Millisecond),
		100*workerCPU.Seconds()/took.Seconds(), peak, loadavg(), (cputime.Self() - cpu0).Round(10*time.Millisecond))

	read, replays := k.check(perKey)
	dups := read - messages
	t.Logf("killed mid-stream: %d messages read = %d + %d duplicates (%.2f%%) in %d per-key replays; none lost, every key in order apart from the replays, bodies, tags, keys and properties kept",
		read, messages, dups, 100*float64(dups)/float64(messages), replays)

	// Per-queue lag and positions over REST.
	lagged := 0
	restarted.waitFor(name, 30*time.Second, "no lag on any queue", func() bool {
		lagged = 0
		for task := range k.tasks {
			code, body := restarted.do("GET", fmt.Sprintf("/connectors/%s/tasks/%d/status", name, task), nil)
			var st struct {
				Lag map[string]int64 `json:"lag"`
			}
			if code != 200 || json.Unmarshal(body, &st) != nil {
				return false
			}
			for _, l := range st.Lag {
				if l != 0 {
					return false
				}
				lagged++
			}
		}
		return lagged == 8
	})
	code, body := restarted.do("GET", "/connectors/"+name+"/offsets", nil)
	var offs struct {
		Offsets []json.RawMessage `json:"offsets"`
	}
	if code != 200 || json.Unmarshal(body, &offs) != nil || len(offs.Offsets) != 8 {
		t.Errorf("GET offsets: HTTP %d %s; want the positions of 8 queues", code, body)
	}
}

// TestRocketMQToRocketMQKill runs RocketMQ → Ferry → RocketMQ, the
// replication connector of issue 14 (runRMQKill): 3 tasks write with the
// rocketmq sink (body=binary, the tag from the source message) to another
// 8-queue topic. Every message must arrive with its body, tag, key and
// user property, each key's messages in one target queue and in order
// apart from replays, which are counted and reported as duplicates.
func TestRocketMQToRocketMQKill(t *testing.T) {
	out := newRMQTopic(t, "ferry-r2r-out", 8)
	runRMQKill(t, rmqKill{
		name: "r2r", tasks: 3, out: out.name, count: out.total,
		sink: merge(out.sinkConfig(), map[string]string{
			"sink.body": "binary", "sink.tag.form": "JSONPATH", "sink.tag.value": "$.rocketmqtag",
		}),
		check: func(perKey []int) (int, int) { return r2rCheck(t, out, perKey) },
	})
}
