package rocketmq

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferryhq/ferry/api"
)

// fakeProducer stores sends per queue, choosing queues through the sink's
// selector exactly as the library does (a batch goes where its first
// message's Queue says). fail, when set, may refuse a send.
type fakeProducer struct {
	rmq.Producer
	t    testing.TB
	sel  *selector
	mqs  []*primitive.MessageQueue
	mu   sync.Mutex
	got  map[int][]string // queue id -> event ids in stored order
	sent int              // sends attempted
	fail func(n int, msgs []*primitive.Message) error
}

func newFake(t testing.TB, sel *selector, queues int) *fakeProducer {
	f := &fakeProducer{t: t, sel: sel, got: map[int][]string{}}
	for q := queues - 1; q >= 0; q-- { // listed out of order on purpose
		f.mqs = append(f.mqs, &primitive.MessageQueue{Topic: "t", BrokerName: "b", QueueId: q})
	}
	return f
}

func (f *fakeProducer) SendSync(ctx context.Context, batch ...*primitive.Message) (*primitive.SendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent++
	msgs := unbatch(f.t, batch)
	if f.fail != nil {
		if err := f.fail(f.sent, msgs); err != nil {
			return nil, err
		}
	}
	probe := primitive.NewMessage(msgs[0].Topic, nil)
	probe.Queue = msgs[0].Queue
	probe.WithShardingKey(msgs[0].GetShardingKey())
	q := f.sel.Select(probe, f.mqs, "")
	for _, m := range msgs {
		if m.Queue != nil && len(msgs) > 1 && m.Queue != msgs[0].Queue {
			return nil, errors.New("batch spans queues")
		}
		f.got[q.QueueId] = append(f.got[q.QueueId], idOf(m))
	}
	return &primitive.SendResult{Status: primitive.SendOK, MessageQueue: q}, nil
}

func (f *fakeProducer) Shutdown() error { return nil }

// unbatch returns the messages a send carries, as the broker reads them:
// one message sent alone, or each message of one batch message (whose
// Queue is the batch's). The producer takes several messages as a batch
// too; the sink sends one at a time.
func unbatch(t testing.TB, sent []*primitive.Message) []*primitive.Message {
	t.Helper()
	if len(sent) != 1 {
		t.Errorf("a send of %d messages; the sink sends one message or one batch message", len(sent))
		return sent
	}
	if !sent[0].Batch {
		return sent
	}
	var out []*primitive.Message
	for b := sent[0].Body; len(b) > 0; {
		m, n, err := decodeFrame(b)
		if err != nil {
			t.Fatalf("batch body: %v", err)
		}
		m.Topic, m.Queue = sent[0].Topic, sent[0].Queue
		out = append(out, m)
		b = b[n:]
	}
	return out
}

// decodeFrame reads one message of a batch body (the layout
// primitive.Message.Marshal writes) and returns it with the bytes it took.
func decodeFrame(b []byte) (*primitive.Message, int, error) {
	if len(b) < fixedMessageBytes {
		return nil, 0, fmt.Errorf("%d bytes left, a message takes at least %d", len(b), fixedMessageBytes)
	}
	total := int(binary.BigEndian.Uint32(b))
	if total < fixedMessageBytes || total > len(b) {
		return nil, 0, fmt.Errorf("total size %d of %d bytes", total, len(b))
	}
	if magic, crc, flag := binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:]), binary.BigEndian.Uint32(b[12:]); magic|crc|flag != 0 {
		return nil, 0, fmt.Errorf("magic %d, crc %d, flag %d; want 0", magic, crc, flag)
	}
	n := int(binary.BigEndian.Uint32(b[16:]))
	if 20+n+2 > total {
		return nil, 0, fmt.Errorf("body of %d bytes in a message of %d", n, total)
	}
	pn := int(binary.BigEndian.Uint16(b[20+n:]))
	if 22+n+pn != total {
		return nil, 0, fmt.Errorf("body %d and properties %d bytes in a message of %d", n, pn, total)
	}
	m := primitive.NewMessage("", b[20:20+n])
	m.UnmarshalProperties(b[22+n : total])
	return m, total, nil
}

func idOf(m *primitive.Message) string {
	keys := m.GetKeys()
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i] == ' ' {
			return keys[i+1:]
		}
	}
	return keys
}

func fakeSink(t *testing.T, cfg map[string]string, queues int) (*sink, *fakeProducer) {
	t.Helper()
	full := map[string]string{"nameservers": "127.0.0.1:1", "topic": "t", "batch.size": "4"}
	for k, v := range cfg {
		full[k] = v
	}
	c, err := sinkSpec.Parse(full)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSink(api.TaskConfig{Connector: "c", Config: c})
	if err != nil {
		t.Fatal(err)
	}
	sk := s.(*sink)
	f := newFake(t, sk.sel, queues)
	sk.p = f
	return sk, f
}

func keyed(n, keys int) []api.Record {
	recs := make([]api.Record, n)
	for i := range recs {
		recs[i] = api.Record{
			Event: api.Event{ID: strconv.Itoa(i), Source: "/s", Type: "t", Data: []byte(`{}`), Time: time.Unix(1, 0)},
			Key:   []byte(fmt.Sprint("k", i%keys)),
		}
	}
	return recs
}

// checkOrder verifies that every record is stored exactly once and that
// each key's records are in one queue, in index order.
func checkOrder(t *testing.T, f *fakeProducer, n, keys int) {
	t.Helper()
	seen := map[string]bool{}
	queueOf := map[int]int{}
	last := map[int]int{}
	for q, ids := range f.got {
		for _, id := range ids {
			if seen[id] {
				t.Errorf("record %s stored twice", id)
			}
			seen[id] = true
			i, _ := strconv.Atoi(id)
			k := i % keys
			if p, ok := queueOf[k]; ok && p != q {
				t.Errorf("key %d in queues %d and %d", k, p, q)
			}
			queueOf[k] = q
			if p, ok := last[k]; ok && i <= p {
				t.Errorf("key %d: record %d after %d", k, i, p)
			}
			last[k] = i
		}
	}
	if len(seen) != n {
		t.Errorf("%d records stored, want %d", len(seen), n)
	}
}

func TestWriteOrdersPerKey(t *testing.T) {
	t.Parallel()
	s, f := fakeSink(t, nil, 5)
	recs := keyed(200, 7)
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	checkOrder(t, f, 200, 7)
	// 1 lone first send, then per queue ceil(records/4) batches.
	if f.sent > 1+200/4+5 {
		t.Errorf("%d sends for 200 records in batches of 4", f.sent)
	}
}

func TestRetryAfterPartialFailureSkipsStored(t *testing.T) {
	t.Parallel()
	s, f := fakeSink(t, nil, 3)
	recs := keyed(60, 6)
	fails := 0
	f.fail = func(n int, msgs []*primitive.Message) error {
		// The 4th send fails once: some queues have stored batches by
		// then, one has not.
		if n == 4 {
			fails++
			return errors.New("request timeout")
		}
		return nil
	}
	err := s.Write(context.Background(), recs)
	if err == nil || !api.IsRetryable(err) {
		t.Fatalf("Write = %v, want a retryable error", err)
	}
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if fails != 1 {
		t.Fatalf("failed %d sends, want 1", fails)
	}
	checkOrder(t, f, 60, 6)
}

func TestIllegalBatchIsSplit(t *testing.T) {
	t.Parallel()
	s, f := fakeSink(t, map[string]string{"ordered": "false"}, 1)
	recs := keyed(9, 9)
	f.fail = func(_ int, msgs []*primitive.Message) error {
		for _, m := range msgs {
			if idOf(m) == "6" {
				return errors.New("CODE: 13, DESC: illegal")
			}
		}
		return nil
	}
	err := s.Write(context.Background(), recs)
	var re *api.RecordErrors
	if !errors.As(err, &re) || len(*re) != 1 || (*re)[0].Index != 6 || !api.IsFatal((*re)[0].Err) {
		t.Fatalf("Write = %v, want record 6 rejected", err)
	}
	want := []string{"0", "1", "2", "3", "4", "5", "7", "8"}
	if got := f.got[0]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored %v, want %v", got, want)
	}
}

func TestBatchBytesLimit(t *testing.T) {
	t.Parallel()
	s, f := fakeSink(t, map[string]string{"batch.size": "1000", "max.message.bytes": "2048"}, 1)
	recs := keyed(40, 1)
	var sizes []int
	f.fail = func(_ int, msgs []*primitive.Message) error {
		n := 0
		for _, m := range msgs {
			n += len(m.Marshal()) // the message's frame in a batch
		}
		sizes = append(sizes, n)
		return nil
	}
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	for _, n := range sizes {
		if n > 2048 {
			t.Errorf("a batch of %d bytes exceeds max.message.bytes", n)
		}
	}
	if len(sizes) < 3 {
		t.Errorf("%d sends; the limit should have split the batch", len(sizes))
	}
	checkOrder(t, f, 40, 1)
}

// TestBuffersKeptWithinBound checks that a sink keeps its encoding
// buffers between Writes of ordinary records and lets go of those a Write
// of huge ones grew.
func TestBuffersKeptWithinBound(t *testing.T) {
	t.Parallel()
	s, f := fakeSink(t, map[string]string{"max.message.bytes": strconv.Itoa(2 << 20)}, 2)
	small := keyed(100, 10)
	if err := s.Write(context.Background(), small); err != nil {
		t.Fatal(err)
	}
	if cap(s.enc.arena) == 0 || cap(s.wire) == 0 {
		t.Errorf("buffers of %d and %d bytes kept after a Write of small records", cap(s.enc.arena), cap(s.wire))
	}
	big := keyed(20, 10)
	for i := range big {
		big[i].Event.ID = strconv.Itoa(100 + i)
		big[i].Event.Data = []byte(`"` + strings.Repeat("x", 1<<20) + `"`)
	}
	if err := s.Write(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	if cap(s.enc.arena) > maxRetainedBytes || cap(s.wire) > maxRetainedBytes {
		t.Errorf("buffers of %d and %d bytes kept after a Write of 20 MiB", cap(s.enc.arena), cap(s.wire))
	}
	checkOrder(t, f, 120, 10)
}

// TestMessagesKeptWithinBound checks the same of the sink's message
// arrays after a Write of more records than it keeps room for.
func TestMessagesKeptWithinBound(t *testing.T) {
	t.Parallel()
	s, f := fakeSink(t, map[string]string{"batch.size": "1000"}, 4)
	if err := s.Write(context.Background(), keyed(100, 10)); err != nil {
		t.Fatal(err)
	}
	if cap(s.msgs) < 100 || cap(s.grouped) < 99 { // the first went alone
		t.Errorf("room for %d and %d messages kept after a Write of 100", cap(s.msgs), cap(s.grouped))
	}
	n := maxRetainedMessages + 100
	recs := keyed(n, 10)
	for i := range recs {
		recs[i].Event.ID = strconv.Itoa(100 + i)
	}
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if cap(s.msgs) > maxRetainedMessages || cap(s.grouped) > maxRetainedMessages {
		t.Errorf("room for %d and %d messages kept after a Write of %d", cap(s.msgs), cap(s.grouped), n)
	}
	checkOrder(t, f, 100+n, 10)
}
