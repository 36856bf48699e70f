package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kafka"
)

var topicSeq atomic.Int64

// newTopic creates a topic with partitions and the given topic configs
// on the test bed's Kafka and deletes it when the test ends.
func newTopic(t testing.TB, brokers []string, prefix string, partitions int, configs map[string]string) string {
	t.Helper()
	topic := fmt.Sprintf("%s-%d-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9, topicSeq.Add(1))
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 20 * time.Second}
	var entries []kafkago.ConfigEntry
	for k, v := range configs {
		entries = append(entries, kafkago.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: topic, NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: entries}}})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if err := res.Errors[topic]; err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, _ = client.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: []string{topic}})
	})
	// Wait until the leaders are known, so the first write does not race
	// the topic's creation.
	for {
		md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) == partitions {
			ready := true
			for _, p := range md.Topics[0].Partitions {
				ready = ready && p.Leader.Host != ""
			}
			if ready && leadersServe(ctx, client, topic, partitions) {
				return topic
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("topic %s never got leaders: %v", topic, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leadersServe reports whether every partition's leader answers for
// it: a new topic's leaders may refuse requests (NOT_LEADER) for a
// moment after the metadata names them.
func leadersServe(ctx context.Context, client *kafkago.Client, topic string, partitions int) bool {
	reqs := make([]kafkago.OffsetRequest, partitions)
	for i := range reqs {
		reqs[i] = kafkago.FirstOffsetOf(i)
	}
	res, err := client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{topic: reqs}})
	if err != nil || len(res.Topics[topic]) != partitions {
		return false
	}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return false
		}
	}
	return true
}

// record is a record read back from a topic.
type record struct {
	partition int
	offset    int64
	key       []byte
	value     []byte // nil: a null value (tombstone)
	headers   map[string]string
	time      time.Time
}

// readTopic reads every record of every partition of topic, by partition
// and offset.
func readTopic(t testing.TB, brokers []string, topic string) []record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 20 * time.Second}
	md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	var out []record
	for _, p := range md.Topics[0].Partitions {
		offset := int64(0)
		for {
			res, err := client.Fetch(ctx, &kafkago.FetchRequest{Topic: topic, Partition: p.ID, Offset: offset,
				MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
			if err != nil {
				t.Fatalf("fetch %s/%d@%d: %v", topic, p.ID, offset, err)
			}
			if res.Error != nil {
				t.Fatalf("fetch %s/%d@%d: %v", topic, p.ID, offset, res.Error)
			}
			for {
				r, err := res.Records.ReadRecord()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("read %s/%d: %v", topic, p.ID, err)
				}
				m := record{partition: p.ID, offset: r.Offset, time: r.Time, headers: map[string]string{}}
				if r.Key != nil {
					m.key, _ = io.ReadAll(r.Key)
				}
				if r.Value != nil {
					m.value, _ = io.ReadAll(r.Value)
					if m.value == nil {
						m.value = []byte{}
					}
				}
				for _, h := range r.Headers {
					m.headers[h.Key] = string(h.Value)
				}
				out = append(out, m)
				offset = r.Offset + 1
			}
			if offset >= res.HighWatermark {
				break
			}
		}
	}
	return out
}

// open builds and opens the sink with cfg (keys relative to "sink.").
func open(t testing.TB, cfg map[string]string) api.Sink {
	t.Helper()
	s, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// build parses, validates and constructs the sink.
func build(cfg map[string]string) (api.Sink, error) {
	c, err := kafka.Sink.Spec.Parse(cfg)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if err := kafka.Sink.Validate(c); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return kafka.Sink.New(api.TaskConfig{Connector: "kafka-sink-test", Config: c, Tasks: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func with(base map[string]string, kv ...string) map[string]string {
	out := maps.Clone(base)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func write(t testing.TB, s api.Sink, recs []api.Record) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return s.Write(ctx, recs)
}

func event(id, data string) api.Event {
	return api.Event{ID: id, Source: "/test", SpecVersion: api.SpecVersion, Type: "test.v1",
		DataContentType: "application/json", Data: []byte(data)}
}

func brokerList(b []string) string { return strings.Join(b, ",") }
