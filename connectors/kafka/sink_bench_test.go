//go:build unix

package kafka_test

import (
	"context"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/generator"
	"github.com/ferryhq/ferry/internal/cputime"
	"github.com/ferryhq/ferry/internal/testbed"
)

// BenchmarkSinkWrite measures records/s into the test bed's Kafka for the
// generator's 1 KB events in engine-sized batches of 1024 (keyless, so
// round-robin over a 6-partition topic, acks=all, no compression), beside
// kafka-go's own Writer writing the same structured-mode bytes to the
// same broker (the ceiling). One op is one record.
//
//	go test -run '^$' -bench BenchmarkSinkWrite -benchmem -benchtime 200000x ./connectors/kafka/
func BenchmarkSinkWrite(b *testing.B) {
	brokers := testbed.Kafka(b)
	gen, err := generator.Source.New(api.TaskConfig{Connector: "bench", Tasks: 1,
		Config: mustParse(b, generator.Source.Spec, map[string]string{"payload.bytes": "1024", "batch.size": "1024"})})
	if err != nil {
		b.Fatal(err)
	}
	if err := gen.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	recs, err := gen.Read(context.Background())
	if err != nil || len(recs) != 1024 {
		b.Fatalf("generator: %d records, %v", len(recs), err)
	}
	values := make([][]byte, len(recs))
	for i := range recs {
		values[i], _ = recs[i].Event.AppendJSON(nil)
	}
	b.Logf("data %d bytes, structured value %d bytes", len(recs[0].Event.Data), len(values[0]))

	for _, body := range []string{"structured", "binary"} {
		b.Run("ferry-"+body, func(b *testing.B) {
			topic := newTopic(b, brokers, "ferry-sink-bench", 6, nil)
			s := open(b, map[string]string{"brokers": brokerList(brokers), "topic": topic, "body": body})
			if err := write(b, s, recs[:1]); err != nil { // connections outside the timing
				b.Fatal(err)
			}
			b.SetBytes(int64(len(values[0])))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cputime.Self()
			for i := 0; i < b.N; i += len(recs) {
				batch := recs[:min(len(recs), b.N-i)]
				for retries := 0; ; retries++ {
					err := write(b, s, batch)
					if err == nil {
						break
					}
					if !api.IsRetryable(err) || retries > 10 {
						b.Fatal(err)
					}
					b.Logf("retrying: %v", err)
				}
			}
			reportCPU(b, cpu)
		})
	}

	b.Run("kafka-go-writer", func(b *testing.B) {
		topic := newTopic(b, brokers, "ferry-sink-bench", 6, nil)
		w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: topic, Balancer: &kafkago.RoundRobin{},
			RequiredAcks: kafkago.RequireAll, BatchSize: 1024, BatchBytes: 1 << 20, BatchTimeout: time.Millisecond}
		defer w.Close()
		msgs := make([]kafkago.Message, len(values))
		for i := range msgs {
			msgs[i] = kafkago.Message{Value: values[i], Headers: []kafkago.Header{{Key: "content-type", Value: []byte("application/cloudevents+json; charset=UTF-8")}}}
		}
		ctx := context.Background()
		if err := w.WriteMessages(ctx, msgs[:1]...); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(values[0])))
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cputime.Self()
		for i := 0; i < b.N; i += len(msgs) {
			// The Writer fills in each message's topic, partition and time:
			// give it fresh copies, as an application would.
			batch := make([]kafkago.Message, min(len(msgs), b.N-i))
			copy(batch, msgs)
			if err := w.WriteMessages(ctx, batch...); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu)
	})
}

// reportCPU reports records/s and the client's CPU-seconds per million
// records (this process only: the broker's CPU is not counted).
func reportCPU(b *testing.B, since time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric((cputime.Self()-since).Seconds()/float64(b.N)*1e6, "cpu-s/Mrec")
}

func mustParse(b *testing.B, spec api.Spec, raw map[string]string) api.Config {
	c, err := spec.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkSinkWriteChanges is the CDC → Kafka sink's share: engine-sized
// batches of 1024 change events (~700-byte update envelopes marked as
// JSON by their source, as mysql-cdc sends them), keyed by primary key
// over a 6-partition topic, structured, acks=all, tombstones on. It
// reports the client's CPU per million records and allocations per
// record (one op is one record).
//
//	go test -run '^$' -bench BenchmarkSinkWriteChanges -benchmem -benchtime 200000x ./connectors/kafka/
func BenchmarkSinkWriteChanges(b *testing.B) {
	brokers := testbed.Kafka(b)
	recs := apitest.ChangeRecords(1024)
	topic := newTopic(b, brokers, "ferry-sink-bench-cdc", 6, nil)
	s := open(b, map[string]string{"brokers": brokerList(brokers), "topic": topic})
	if err := write(b, s, recs[:1]); err != nil { // connections outside the timing
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Self()
	for i := 0; i < b.N; i += len(recs) {
		if err := write(b, s, recs[:min(len(recs), b.N-i)]); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}
