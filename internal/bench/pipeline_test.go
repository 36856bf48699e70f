package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/drop"
	"github.com/ferryhq/ferry/connectors/generator"
	"github.com/ferryhq/ferry/runtime"
)

func newTask(b *testing.B, name string, n, payload int, chain []runtime.NamedTransform) *runtime.Task {
	b.Helper()
	gcfg, err := generator.Source.Spec.Parse(map[string]string{
		"count": fmt.Sprint(n), "payload.bytes": fmt.Sprint(payload),
	})
	if err != nil {
		b.Fatal(err)
	}
	src, err := generator.Source.New(api.TaskConfig{Connector: name, Tasks: 1, Config: gcfg})
	if err != nil {
		b.Fatal(err)
	}
	dcfg, err := drop.Sink.Spec.Parse(map[string]string{})
	if err != nil {
		b.Fatal(err)
	}
	sink, err := drop.Sink.New(api.TaskConfig{Connector: name, Tasks: 1, Config: dcfg})
	if err != nil {
		b.Fatal(err)
	}
	task, err := runtime.New(runtime.Config{
		Connector: name, Source: src, Sink: sink, Transforms: chain,
		Committer: runtime.CommitFunc(func(map[string]api.Position) error { return nil }),
	})
	if err != nil {
		b.Fatal(err)
	}
	return task
}

func runPipeline(b *testing.B, payload int, chain []runtime.NamedTransform) {
	name := fmt.Sprintf("bench-%s-%d", b.Name(), b.N)
	drop.Reset(name)
	task := newTask(b, name, b.N, payload, chain)
	b.ReportAllocs()
	b.SetBytes(int64(payload))
	b.ResetTimer()
	if err := task.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := drop.Count(name); got != int64(b.N) {
		b.Fatalf("drop counted %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkGeneratorToDrop is the runtime's throughput with a no-op chain:
// generator (1 KB events) → drop, one task.
func BenchmarkGeneratorToDrop(b *testing.B) {
	for _, payload := range []int{64, 1024} {
		b.Run(fmt.Sprintf("payload=%d", payload), func(b *testing.B) {
			runPipeline(b, payload, nil)
		})
	}
}
