package rds_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
)

// BenchmarkCDCApply applies Debezium insert events of about 1 KB each
// (eight 110-byte text columns plus the envelope) in writes of 500, as new
// rows, and reports rows/s. Run:
//
//	go test -run '^$' -bench CDCApply -benchmem -benchtime 20000x ./connectors/rds/
func BenchmarkCDCApply(b *testing.B) {
	for _, par := range []string{"1", "4"} {
		b.Run("parallelism="+par, func(b *testing.B) {
			tg := newTarget(b)
			var cols []string
			for c := range 8 {
				cols = append(cols, "c"+strconv.Itoa(c)+" VARCHAR(255)")
			}
			tg.exec("CREATE TABLE bench (id BIGINT PRIMARY KEY, " + strings.Join(cols, ", ") + ")")
			s := open(b, tg.config(map[string]string{"mode": "cdc", "parallelism": par}))
			const batch = 500
			filler := strings.Repeat("x", 110)
			recs := make([]api.Record, batch)
			next := 0
			mk := func() {
				for i := range recs {
					next++
					after := map[string]any{"id": next}
					for c := range 8 {
						after["c"+strconv.Itoa(c)] = filler
					}
					recs[i] = change('c', "bench", nil, after, next)
				}
			}
			mk()
			size := 0
			for i := range recs {
				size += len(recs[i].Event.Data)
			}
			b.ResetTimer()
			done := 0
			for done < b.N {
				b.StopTimer()
				mk()
				b.StartTimer()
				mustWrite(b, s, recs)
				done += batch
			}
			b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(size)/batch, "bytes/row")
		})
	}
}
