package rocketmq_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/internal/cputime"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/internal/testbed/rocketmqtest"
)

// BenchmarkWrite measures records/s into the test bed's RocketMQ for
// events of about 1 KB, written in engine-sized batches of 1024 over 1000
// keys into an 8-queue topic. One op is one record.
//
//	go test -run '^$' -bench BenchmarkWrite -benchmem -benchtime 50000x ./connectors/rocketmq/
func BenchmarkWrite(b *testing.B) {
	namesrv := testbed.RocketMQ(b)
	pad := strings.Repeat("x", 900)
	recs := make([]api.Record, 1024)
	for i := range recs {
		k := "row-" + strconv.Itoa(i%1000)
		recs[i] = api.Record{
			Event: event(fmt.Sprintf("bench-%d", i), fmt.Sprintf(`{"table":"orders","id":%q,"seq":%d,"pad":%q}`, k, i, pad)),
			Key:   []byte(k),
		}
	}
	for _, c := range []struct {
		name string
		cfg  map[string]string
	}{
		{"structured", nil},
		{"binary", map[string]string{"body": "binary"}},
		{"batch.size=1", map[string]string{"batch.size": "1"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			topic := rocketmqtest.Topic(b, "ferry-sink-bench", 8)
			cfg := map[string]string{"nameservers": namesrv, "topic": topic}
			for k, v := range c.cfg {
				cfg[k] = v
			}
			s := open(b, cfg)
			if err := write(b, s, recs[:1]); err != nil { // route lookup outside the timing
				b.Fatal(err)
			}
			b.SetBytes(int64(len(recs[0].Event.Data)))
			b.ReportAllocs()
			b.ResetTimer()
			retries := 0
			for i := 0; i < b.N; i += len(recs) {
				// Retry transient failures (timeouts on a loaded machine)
				// as the engine would, and count them.
				for {
					err := write(b, s, recs[:min(len(recs), b.N-i)])
					if err == nil {
						break
					}
					if !api.IsRetryable(err) || retries > 10 {
						b.Fatal(err)
					}
					retries++
					b.Logf("retrying: %v", err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(retries), "retries")
		})
	}
}

// BenchmarkWriteChanges is the CDC → RocketMQ sink's share: engine-sized
// Writes of 1024 change events (~700-byte update envelopes marked as JSON
// by their source, as mysql-cdc sends them), keyed by primary key, into
// an 8-queue topic with the default options (structured body, ordered).
// It reports this process's CPU per million records (the broker's is not
// counted) and allocations per record; one op is one record.
//
//	go test -run '^$' -bench BenchmarkWriteChanges -benchmem -benchtime 200000x ./connectors/rocketmq/
func BenchmarkWriteChanges(b *testing.B) {
	namesrv := testbed.RocketMQ(b)
	recs := apitest.ChangeRecords(1024)
	topic := rocketmqtest.Topic(b, "ferry-sink-bench-cdc", 8)
	s := open(b, map[string]string{"nameservers": namesrv, "topic": topic})
	if err := write(b, s, recs[:1]); err != nil { // route lookup outside the timing
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric((cputime.Self()-cpu).Seconds()/float64(b.N)*1e6, "cpu-s/Mrec")
}
