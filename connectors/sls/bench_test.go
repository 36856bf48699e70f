package sls_test

import (
	"testing"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/emulator/sls/slstest"
)

// BenchmarkWrite measures events/s into the test bed's SLS emulator: the
// sink's Write of engine-sized batches (1024 generator events of about
// 300 bytes, contents=event: 12 keys a log), beside the SDK alone putting
// LogGroups of 1024 equally flattened logs, lz4 both. One op is one event.
//
//	go test -run '^$' -bench BenchmarkWrite -benchmem -benchtime 100000x ./connectors/sls/
func BenchmarkWrite(b *testing.B) {
	bd := testbedSLS(b)
	recs := generate(b, 1024, 300)
	for _, c := range []struct {
		name string
		kv   []string
	}{
		{"sink", nil},
		{"sink/parallelism=1", []string{"send.parallelism", "1"}},
		{"sink/zstd", []string{"compression", "zstd"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			proj := slstest.Name("ferry-bench")
			bd.Store(b, proj, "events", 2)
			s := open(b, bd.config(proj, "events", c.kv...))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i += len(recs) {
				if err := write(s, recs[:min(len(recs), b.N-i)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
	b.Run("sdk-alone", func(b *testing.B) {
		proj := slstest.Name("ferry-bench-sdk")
		bd.Store(b, proj, "events", 2)
		cli := bd.Client()
		lg := &aliyun.LogGroup{Topic: proto.String("")}
		for i := range recs {
			lg.Logs = append(lg.Logs, flatLog(&recs[i].Event))
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i += len(recs) {
			g := *lg
			g.Logs = lg.Logs[:min(len(recs), b.N-i)]
			if err := cli.PostLogStoreLogsV2(proj, "events", &aliyun.PostLogStoreLogsRequest{LogGroup: &g, CompressType: aliyun.Compress_LZ4}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	})
}

// flatLog is the log contents=event makes of a generator event, built
// once outside the timing.
func flatLog(ev *api.Event) *aliyun.Log {
	kv := []string{"id", ev.ID, "source", ev.Source, "specversion", "1.0", "type", ev.Type,
		"time", ev.Time.UTC().Format(time.RFC3339Nano), "datacontenttype", ev.DataContentType,
		"data.payload", "…", "data.seq", "1", "data.task", "0"}
	l := &aliyun.Log{Time: proto.Uint32(uint32(ev.Time.Unix()))}
	for i := 0; i < len(kv); i += 2 {
		v := kv[i+1]
		if kv[i] == "data.payload" {
			v = string(ev.Data[len(ev.Data)-260:])
		}
		l.Contents = append(l.Contents, &aliyun.LogContent{Key: proto.String(kv[i]), Value: proto.String(v)})
	}
	return l
}
