package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/state"
)

// BenchmarkCommitInterval is generator (1 KB) → drop with offsets
// committed to a real bbolt store (fsync per commit) every interval: what
// a short commit interval, which bounds the records a killed worker
// replays, costs in throughput. Run it long enough for many commits:
// -benchtime 10000000x.
func BenchmarkCommitInterval(b *testing.B) {
	for _, iv := range []time.Duration{5 * time.Second, time.Second, 500 * time.Millisecond, 200 * time.Millisecond} {
		b.Run(fmt.Sprintf("interval=%v", iv), func(b *testing.B) {
			store, err := state.OpenBolt(filepath.Join(b.TempDir(), "ferry.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			name := runName()
			var commits atomic.Int64
			task := newTaskWith(b, name, b.N, 1024, func(cfg *runtime.Config) {
				cfg.CommitInterval = iv
				cfg.Committer = runtime.CommitFunc(func(p map[string]api.Position) error {
					commits.Add(1)
					return store.CommitOffsets(context.Background(), name, 1, p)
				})
			})
			measure(b, name, 1024, task)
			b.ReportMetric(float64(commits.Load()), "commits")
		})
	}
}
