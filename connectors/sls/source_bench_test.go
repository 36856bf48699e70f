package sls_test

import (
	"context"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/emulator/sls/slstest"
)

// BenchmarkSourceRead measures logs/s from the test bed's SLS emulator
// through the source's Read loop (4 shards, log groups of 100 logs of
// two keys, about 60 bytes of values each), beside the SDK alone pulling
// and decoding the same logstore (PullLogs, LogGroupList) in the same run.
// One op is one log.
//
//	go test -run '^$' -bench BenchmarkSourceRead -benchmem -benchtime 200000x ./connectors/sls/
func BenchmarkSourceRead(b *testing.B) {
	bd := testbedSLS(b)
	proj := slstest.Name("ferry-bench-src")
	bd.Store(b, proj, "logs", 4)
	seeded := 0
	// seed makes the logstore hold at least n logs; both sides read it
	// from the beginning.
	seed := func(b *testing.B, n int) {
		if n > seeded {
			bd.putSeq(b, bd.Client(), proj, "logs", seeded, n-seeded, 100)
			seeded = n
		}
	}

	b.Run("source", func(b *testing.B) {
		seed(b, b.N)
		src := openSrc(b, bd.sourceConfig(proj, "logs"), nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		n := 0
		for n < b.N {
			recs, err := src.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			n += len(recs)
			sinkRecords(recs)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "logs/s")
	})
	b.Run("sdk-alone", func(b *testing.B) {
		seed(b, b.N)
		cli := bd.Client()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		n := 0
		for shard := 0; shard < 4 && n < b.N; shard++ {
			cursor, err := cli.GetCursor(proj, "logs", shard, "begin")
			if err != nil {
				b.Fatal(err)
			}
			for {
				gl, next, err := cli.PullLogs(proj, "logs", shard, cursor, "", 1000)
				if err != nil {
					b.Fatal(err)
				}
				for _, g := range gl.LogGroups {
					n += len(g.Logs)
				}
				if len(gl.LogGroups) == 0 || next == cursor || n >= b.N {
					break
				}
				cursor = next
			}
		}
		if n < b.N && seeded >= b.N {
			b.Fatalf("SDK read %d logs, want %d", n, b.N)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "logs/s")
	})
}

var sunk int

// sinkRecords keeps the compiler from discarding the records.
func sinkRecords(recs []api.Record) { sunk += len(recs) }
