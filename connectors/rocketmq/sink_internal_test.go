package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	sel  *selector
	mqs  []*primitive.MessageQueue
	mu   sync.Mutex
	got  map[int][]string // queue id -> event ids in stored order
	sent int              // sends attempted
	fail func(n int, msgs []*primitive.Message) error
}

func newFake(sel *selector, queues int) *fakeProducer {
	f := &fakeProducer{sel: sel, got: map[int][]string{}}
	for q := queues - 1; q >= 0; q-- { // listed out of order on purpose
		f.mqs = append(f.mqs, &primitive.MessageQueue{Topic: "t", BrokerName: "b", QueueId: q})
	}
	return f
}

func (f *fakeProducer) SendSync(ctx context.Context, msgs ...*primitive.Message) (*primitive.SendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent++
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
	f := newFake(sk.sel, queues)
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
			n += len(m.Marshal())
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
