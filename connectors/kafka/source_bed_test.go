package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kafka"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/runtime"
)

// bed is the test bed's Kafka, as the source tests use it.
type bed struct {
	brokers []string
	client  *kafkago.Client
}

func newBed(t testing.TB) *bed {
	t.Helper()
	brokers := testbed.Kafka(t)
	tr := &kafkago.Transport{MetadataTTL: time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &bed{brokers: brokers, client: &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 20 * time.Second, Transport: tr}}
}

var srcTopicSeq atomic.Int64

// topic creates a topic with n partitions and waits until each has a
// leader the producer can write to.
func (b *bed) topic(t testing.TB, prefix string, n int) string {
	t.Helper()
	return b.topicNamed(t, fmt.Sprintf("ferry-src-%s-%d-%d", prefix, time.Now().UnixNano(), srcTopicSeq.Add(1)), n)
}

// waitPartitions waits until the topic's n partitions have leaders.
func (b *bed) waitPartitions(t testing.TB, topic string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		md, err := b.client.Metadata(context.Background(), &kafkago.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) == n {
			ok := true
			for _, p := range md.Topics[0].Partitions {
				ok = ok && p.Leader.Host != ""
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: %d partitions with leaders not seen within 60s (err %v)", topic, n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// msg is one record to produce.
type msg struct {
	key, value []byte // nil value: a tombstone
	headers    []kafkago.Header
	time       time.Time
}

// produce writes msgs to one partition as one batch (acks=all), retrying
// while a new partition's leader settles, and returns the first offset.
func (b *bed) produce(t testing.TB, topic string, partition int, msgs ...msg) int64 {
	t.Helper()
	recs := make([]kafkago.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = kafkago.Record{Time: m.time, Headers: m.headers}
		if recs[i].Time.IsZero() {
			recs[i].Time = time.Now()
		}
		if m.key != nil {
			recs[i].Key = kafkago.NewBytes(m.key)
		}
		if m.value != nil {
			recs[i].Value = kafkago.NewBytes(m.value)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		resp, err := b.client.Produce(ctx, &kafkago.ProduceRequest{
			Topic: topic, Partition: partition, RequiredAcks: kafkago.RequireAll,
			Records: kafkago.NewRecordReader(recs...),
		})
		cancel()
		if err == nil {
			err = resp.Error
		}
		if err == nil {
			return resp.BaseOffset
		}
		if time.Now().After(deadline) {
			t.Fatalf("produce to %s-%d: %v", topic, partition, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// values produces n JSON records {"n":i} to a partition, one batch.
func (b *bed) values(t testing.TB, topic string, partition, from, n int) {
	t.Helper()
	msgs := make([]msg, n)
	for i := range msgs {
		msgs[i] = msg{key: []byte("k" + strconv.Itoa(from+i)), value: fmt.Appendf(nil, `{"n":%d}`, from+i)}
	}
	b.produce(t, topic, partition, msgs...)
}

// groupOffsets reads a consumer group's committed offsets of a topic.
func (b *bed) groupOffsets(t testing.TB, group, topic string, partitions int) map[int]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ids := make([]int, partitions)
	for i := range ids {
		ids[i] = i
	}
	resp, err := b.client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error == nil && p.CommittedOffset >= 0 {
			out[p.Partition] = p.CommittedOffset
		}
	}
	return out
}

// config is a source config for the bed with overrides.
func (b *bed) config(kv ...string) map[string]string {
	c := map[string]string{"brokers": b.brokers[0], "fetch.max.wait": "100ms", "metadata.refresh.interval": "1s"}
	for i := 0; i+1 < len(kv); i += 2 {
		c[kv[i]] = kv[i+1]
	}
	return c
}

// openSource builds and opens task task of tasks.
func openSource(t testing.TB, raw map[string]string, task, tasks int, committed map[string]api.Position) api.Source {
	t.Helper()
	src, err := newSource(raw, task, tasks, committed)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Retry as the engine does: a just-created topic's leaders take a
	// moment to be known to every request.
	for {
		err := src.Open(ctx)
		if err == nil {
			break
		}
		if !api.IsRetryable(err) || ctx.Err() != nil {
			t.Fatalf("Open: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	return src
}

func newSource(raw map[string]string, task, tasks int, committed map[string]api.Position) (api.Source, error) {
	c, err := kafka.Source.Spec.Parse(raw)
	if err != nil {
		return nil, err
	}
	if err := kafka.Source.Validate(c); err != nil {
		return nil, err
	}
	return kafka.Source.New(api.TaskConfig{Connector: "src-test", Task: task, Tasks: tasks, Config: c, Committed: committed})
}

// readN reads until n records arrived, failing after timeout.
func readN(t testing.TB, src api.Source, n int, timeout time.Duration) []api.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []api.Record
	for len(out) < n {
		batch, err := src.Read(ctx)
		if err != nil && api.IsRetryable(err) && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond) // the engine's backoff
			continue
		}
		if err != nil {
			t.Fatalf("Read after %d of %d records: %v", len(out), n, err)
		}
		out = append(out, batch...)
	}
	return out
}

// readFor reads whatever arrives within d.
func readFor(t testing.TB, src api.Source, d time.Duration) []api.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []api.Record
	for {
		batch, err := src.Read(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return out
		}
		if err != nil && api.IsRetryable(err) {
			time.Sleep(50 * time.Millisecond) // the engine's backoff
			continue
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		out = append(out, batch...)
	}
}

// lastPositions is the last position of each partition in recs.
func lastPositions(recs []api.Record) map[string]api.Position {
	out := map[string]api.Position{}
	for _, r := range recs {
		out[r.Partition] = r.Position
	}
	return out
}

// offsetsByPartition lists each partition's record offsets in order.
func offsetsByPartition(t testing.TB, recs []api.Record) map[string][]int64 {
	t.Helper()
	out := map[string][]int64{}
	for _, r := range recs {
		off, ok := r.Event.Extensions[kafka.ExtOffset].(int64)
		if !ok {
			t.Fatalf("record %s has no %s extension", r.Event.ID, kafka.ExtOffset)
		}
		out[r.Partition] = append(out[r.Partition], off)
	}
	return out
}

func seq(from, to int64) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// topicNamed creates a topic with a given name and n partitions.
func (b *bed) topicNamed(t testing.TB, name string, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := b.client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{
		Topics: []kafkago.TopicConfig{{Topic: name, NumPartitions: n, ReplicationFactor: 1}},
	})
	if err == nil {
		err = resp.Errors[name]
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, _ = b.client.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: []string{name}})
	})
	b.waitPartitions(t, name, n)
	return name
}

// addPartitions grows a topic to count partitions.
func (b *bed) addPartitions(t testing.TB, topic string, count int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := b.client.CreatePartitions(ctx, &kafkago.CreatePartitionsRequest{
		Topics: []kafkago.TopicPartitionsConfig{{Name: topic, Count: int32(count)}},
	})
	if err == nil {
		err = resp.Errors[topic]
	}
	if err != nil {
		t.Fatalf("add partitions to %s: %v", topic, err)
	}
	b.waitPartitions(t, topic, count)
}

// taskRun is a kafka source running in the engine, into a sink that
// counts.
type taskRun struct {
	task   *runtime.Task
	sink   *countSink
	cancel context.CancelFunc
	done   chan error
}

func startTask(t testing.TB, raw map[string]string) *taskRun {
	t.Helper()
	src, err := newSource(raw, 0, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := &countSink{}
	task, err := runtime.New(runtime.Config{
		Connector: "src-test", Source: src, Sink: sink,
		Committer:      runtime.CommitFunc(func(map[string]api.Position) error { return nil }),
		CommitInterval: 100 * time.Millisecond,
		StopTimeout:    20 * time.Second,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &taskRun{task: task, sink: sink, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- task.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *taskRun) lag() map[string]int64 { return r.task.Metrics().Lag }

func (r *taskRun) waitRecords(t testing.TB, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for r.sink.n.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("sink got %d records, want %d", r.sink.n.Load(), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *taskRun) stop(t testing.TB) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil {
		t.Errorf("task: %v", err)
	}
}

// countSink counts what it is given.
type countSink struct{ n atomic.Int64 }

func (s *countSink) Open(context.Context) error { return nil }
func (s *countSink) Write(_ context.Context, recs []api.Record) error {
	s.n.Add(int64(len(recs)))
	return nil
}
func (s *countSink) Close(context.Context) error { return nil }
