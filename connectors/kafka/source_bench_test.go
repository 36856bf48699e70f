package kafka_test

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// benchRecords is how many 1 KB records each pass reads.
const benchRecords = 100_000

// BenchmarkSourceRead reads a one-partition topic of 1 KB JSON records
// through the source's Read loop, and beside it through kafka-go's own
// Reader (the ceiling: no decoding into events), in the same run. One op
// is one pass over the whole topic; records/s and allocs/record are the
// figures to compare. Run with -benchtime=3x.
func BenchmarkSourceRead(b *testing.B) {
	bed := newBed(b)
	topic := bed.topic(b, "bench", 1)
	value := fmt.Sprintf(`{"n":%%06d,"pad":"%s"}`, strings.Repeat("x", 1024-22))
	for from := 0; from < benchRecords; from += 1000 {
		msgs := make([]msg, 1000)
		for i := range msgs {
			msgs[i] = msg{key: fmt.Appendf(nil, "key-%08d", from+i), value: fmt.Appendf(nil, value, from+i)}
		}
		bed.produce(b, topic, 0, msgs...)
	}
	measure := func(b *testing.B, pass func(b *testing.B)) {
		var ms0, ms1 goruntime.MemStats
		goruntime.GC()
		goruntime.ReadMemStats(&ms0)
		start := time.Now()
		for range b.N {
			pass(b)
		}
		elapsed := time.Since(start)
		goruntime.ReadMemStats(&ms1)
		n := float64(b.N * benchRecords)
		b.ReportMetric(n/elapsed.Seconds(), "records/s")
		b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/record")
		b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/n, "B/record")
	}
	b.Run("ferry-source", func(b *testing.B) {
		measure(b, func(b *testing.B) {
			src := openSource(b, bed.config("topics", topic, "fetch.max.wait", "500ms"), 0, 1, nil)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for got := 0; got < benchRecords; {
				recs, err := src.Read(ctx)
				if err != nil {
					b.Fatal(err)
				}
				got += len(recs)
			}
			_ = src.Close(ctx)
		})
	})
	b.Run("kafka-go-reader", func(b *testing.B) {
		measure(b, func(b *testing.B) {
			r := kafkago.NewReader(kafkago.ReaderConfig{
				Brokers: bed.brokers, Topic: topic, Partition: 0,
				MinBytes: 1, MaxBytes: 2 << 20, MaxWait: 500 * time.Millisecond,
			})
			defer r.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for range benchRecords {
				if _, err := r.FetchMessage(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
