package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/drop"
	"github.com/ferryhq/ferry/offset"
	"github.com/ferryhq/ferry/runtime"
)

// BenchmarkCommitInterval is generator (1 KB) → drop with offsets
// committed to a real bbolt store (fsync per commit) every interval: what
// a short commit interval, which bounds the records a killed worker
// replays, costs in throughput. Run it long enough for many commits:
// -benchtime 10000000x.
func BenchmarkCommitInterval(b *testing.B) {
	for _, iv := range []time.Duration{5 * time.Second, time.Second, 500 * time.Millisecond, 200 * time.Millisecond} {
		b.Run(fmt.Sprintf("interval=%v", iv), func(b *testing.B) {
			store, err := offset.OpenBolt(filepath.Join(b.TempDir(), "ferry.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			name := fmt.Sprintf("orders-to-warehouse-%04d", runs.Add(1)%10000)
			drop.Reset(name)
			var commits atomic.Int64
			task := newTaskWith(b, name, b.N, 1024, func(cfg *runtime.Config) {
				cfg.CommitInterval = iv
				cfg.Committer = runtime.CommitFunc(func(p map[string]api.Position) error {
					commits.Add(1)
					return store.CommitOffsets(context.Background(), name, 1, p)
				})
			})
			b.SetBytes(1024)
			b.ResetTimer()
			if err := task.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if got := drop.Count(name); got != int64(b.N) {
				b.Fatalf("drop counted %d of %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(commits.Load()), "commits")
		})
	}
}
