package dts_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	emu "github.com/ferryhq/ferry/internal/emulator/dts"
)

// BenchmarkRead measures the source's Read loop against the emulator:
// decode (Avro), render (mysql-cdc's envelope) and hand out every record
// of a 100,000-change subscription — transactions of four rows of the
// sample orders table (BIGINT, VARCHAR, DECIMAL, DATETIME) with BEGIN and
// COMMIT. One op reads the whole subscription from the start.
func BenchmarkRead(b *testing.B) {
	const changes = 100_000
	bd := newBed(b)
	start := time.Unix(1_763_800_000, 0)
	var batch []emu.Change
	for tx := 0; tx < changes/4; tx++ {
		at := start.Add(time.Duration(tx/100) * time.Second)
		batch = append(batch, emu.BeginTx(at, fmt.Sprint(tx)))
		for k := range 4 {
			id := int64(tx*4 + k)
			batch = append(batch, emu.Change{Op: emu.Insert, Database: "ferry", Table: "orders", Columns: emu.SampleColumns,
				After:     []emu.Value{emu.Int(id), emu.Text(fmt.Sprintf("customer-%d", id%7)), emu.Dec("1234.50", 12, 2), emu.DateTimeOf(at)},
				Timestamp: at})
		}
		batch = append(batch, emu.CommitTx(at, fmt.Sprint(tx)))
		if len(batch) >= 6000 {
			bd.publish(batch...)
			batch = batch[:0]
		}
	}
	bd.publish(batch...)
	cfg := bd.config()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for b.Loop() {
		src, _ := newSource(b, cfg, nil)
		ctx := context.Background()
		if err := src.Open(ctx); err != nil {
			b.Fatal(err)
		}
		n := 0
		for n < changes {
			recs, err := src.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range recs {
				if r.Event.Type != "ferry.dts.heartbeat" {
					n++
				}
			}
		}
		_ = src.Close(ctx)
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	total := float64(b.N * changes)
	b.ReportMetric(total/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/record")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/total, "B/record")
}
