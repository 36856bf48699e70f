package rocketmq_test

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
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
	recs := changes(1024)
	topic := rocketmqtest.Topic(b, "ferry-sink-bench-cdc", 8)
	s := open(b, map[string]string{"nameservers": namesrv, "topic": topic})
	if err := write(b, s, recs[:1]); err != nil { // route lookup outside the timing
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i += len(recs) {
		if err := write(b, s, recs[:min(len(recs), b.N-i)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N)*1e6, "cpu-s/Mrec")
}

// changes returns n mysql-cdc update events of the bench table's shape,
// keyed by primary key.
func changes(n int) []api.Record {
	recs := make([]api.Record, n)
	for i := range recs {
		data := fmt.Appendf(nil, `{"before":{"id":%d,"name":"name-%d","n":%d,"amount":"%d.50","ts":"2024-05-01T12:34:56.123"},`+
			`"after":{"id":%d,"name":"name-%d","n":%d,"amount":"%d.75","ts":"2024-05-01T12:34:57.456"},`+
			`"source":{"version":"ferry","connector":"mysql","name":"bench","ts_ms":1714566896000,"snapshot":"false","db":"bench","table":"bench",`+
			`"server_id":1,"file":"mysql-bin.000003","pos":%d,"row":0,"gtid":null},"op":"u","ts_ms":1714566896123}`,
			i, i, i, i, i, i, i+1, i, 123456+i)
		ev := api.Event{ID: fmt.Sprintf("mysql-bin.000003:%d:0", 123456+i), Source: "/ferry/mysql-cdc/bench", SpecVersion: "1.0",
			Type: "com.ferry.mysql.update", Subject: "bench.bench", DataContentType: "application/json",
			Time: time.Date(2024, 5, 1, 12, 34, 56, 0, time.UTC), Data: data}
		ev.MarkDataJSON()
		recs[i] = api.Record{Event: ev, Key: fmt.Appendf(nil, `{"id":%d}`, i)}
	}
	return recs
}

// cpuTime is this process's user and system CPU so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
