package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/ferryhq/ferry/internal/testbed"
)

// Helpers of the Kafka end-to-end tests and benchmarks (kafka_e2e_test.go,
// kafka_bench_test.go): topics on the test bed's Kafka, created and read
// back with kafka-go directly, and the CPU time of a process.

// kafkaTopic is a topic created for one test and deleted when it ends.
type kafkaTopic struct {
	t          testing.TB
	brokers    []string
	name       string
	partitions int
	client     *kafkago.Client
}

func newKafkaTopic(t testing.TB, prefix string, partitions int) *kafkaTopic {
	t.Helper()
	return newKafkaTopicNamed(t, fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), cdcSeq.Add(1)), partitions)
}

// newKafkaTopicNamed is newKafkaTopic for a topic whose name another
// program chooses (Debezium's <prefix>.<database>.<table>).
func newKafkaTopicNamed(t testing.TB, name string, partitions int) *kafkaTopic {
	t.Helper()
	brokers := testbed.Kafka(t)
	tp := &kafkaTopic{
		t: t, brokers: brokers, partitions: partitions, name: name,
		client: &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 30 * time.Second},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := tp.client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: tp.name, NumPartitions: partitions, ReplicationFactor: 1}}})
	if err != nil {
		t.Fatalf("create topic %s: %v", tp.name, err)
	}
	if err := res.Errors[tp.name]; err != nil {
		t.Fatalf("create topic %s: %v", tp.name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = tp.client.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: []string{tp.name}})
	})
	// A new topic's leaders may refuse requests for a moment after the
	// metadata names them: wait until every partition answers.
	for {
		if _, err := tp.ends(ctx); err == nil {
			return tp
		} else if ctx.Err() != nil {
			t.Fatalf("topic %s never served: %v", tp.name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ends returns every partition's high watermark.
func (tp *kafkaTopic) ends(ctx context.Context) ([]int64, error) {
	reqs := make([]kafkago.OffsetRequest, tp.partitions)
	for i := range reqs {
		reqs[i] = kafkago.LastOffsetOf(i)
	}
	res, err := tp.client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{tp.name: reqs}})
	if err != nil {
		return nil, err
	}
	ps := res.Topics[tp.name]
	if len(ps) != tp.partitions {
		return nil, fmt.Errorf("%d of %d partitions listed", len(ps), tp.partitions)
	}
	out := make([]int64, tp.partitions)
	for _, p := range ps {
		if p.Error != nil {
			return nil, p.Error
		}
		out[p.Partition] = p.LastOffset
	}
	return out, nil
}

// total is the number of records in the topic (-1 when the broker does
// not answer).
func (tp *kafkaTopic) total() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := tp.ends(ctx)
	if err != nil {
		return -1
	}
	var n int64
	for _, e := range ends {
		n += e
	}
	return n
}

// settle waits until the topic holds at least want records and has not
// grown for quiet (replays make a count a lower bound), failing after
// limit. It returns the final count.
func (tp *kafkaTopic) settle(w *proc, connector string, want int64, quiet, limit time.Duration) int64 {
	tp.t.Helper()
	last, still := int64(-1), time.Now()
	w.waitFor(connector, limit, fmt.Sprintf("%d records in %s", want, tp.name), func() bool {
		n := tp.total()
		if n != last {
			last, still = n, time.Now()
		}
		return n >= want && time.Since(still) > quiet
	})
	return last
}

// kafkaRecord is one record read back.
type kafkaRecord struct {
	partition int
	offset    int64
	key       []byte
	value     []byte // nil: a null value (tombstone)
	headers   []kafkago.Header
}

// header returns the value of the header named k, and whether there is one.
func (r *kafkaRecord) header(k string) (string, bool) {
	for _, h := range r.headers {
		if h.Key == k {
			return string(h.Value), true
		}
	}
	return "", false
}

// each calls f with every record of the topic, partition by partition in
// offset order, without holding the topic in memory.
func (tp *kafkaTopic) each(f func(r *kafkaRecord)) {
	tp.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ends, err := tp.ends(ctx)
	if err != nil {
		tp.t.Fatalf("offsets of %s: %v", tp.name, err)
	}
	for p := range tp.partitions {
		offset := int64(0)
		for offset < ends[p] {
			res, err := tp.client.Fetch(ctx, &kafkago.FetchRequest{Topic: tp.name, Partition: p, Offset: offset,
				MinBytes: 1, MaxBytes: 32 << 20, MaxWait: 100 * time.Millisecond})
			if err == nil {
				err = res.Error
			}
			if err != nil {
				tp.t.Fatalf("fetch %s/%d@%d: %v", tp.name, p, offset, err)
			}
			for {
				r, err := res.Records.ReadRecord()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					tp.t.Fatalf("read %s/%d: %v", tp.name, p, err)
				}
				rec := kafkaRecord{partition: p, offset: r.Offset, headers: r.Headers}
				if r.Key != nil {
					rec.key, _ = io.ReadAll(r.Key)
				}
				if r.Value != nil {
					rec.value, _ = io.ReadAll(r.Value)
					if rec.value == nil {
						rec.value = []byte{}
					}
				}
				if r.Offset >= offset {
					f(&rec)
					offset = r.Offset + 1
				}
			}
		}
	}
}

// sinkConfig is the kafka sink part of a connector config writing here.
func (tp *kafkaTopic) sinkConfig() map[string]string {
	return map[string]string{"sink": "kafka", "sink.brokers": strings.Join(tp.brokers, ","), "sink.topic": tp.name}
}

// sourceConfig is the kafka source part of a connector config reading
// this topic from its start.
func (tp *kafkaTopic) sourceConfig() map[string]string {
	return map[string]string{"source": "kafka", "source.brokers": strings.Join(tp.brokers, ","), "source.topics": tp.name}
}

// writer is a kafka-go Writer producing into the topic (acks=all, hash
// partitioning by key, the Java default's murmur2, as Ferry's sink).
func (tp *kafkaTopic) writer() *kafkago.Writer {
	return &kafkago.Writer{
		Addr: kafkago.TCP(tp.brokers...), Topic: tp.name, Balancer: &kafkago.Murmur2Balancer{},
		RequiredAcks: kafkago.RequireAll, BatchSize: 1000, BatchBytes: 4 << 20, BatchTimeout: time.Millisecond,
	}
}
