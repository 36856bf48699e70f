package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/drop"
	"github.com/ferryhq/ferry/connectors/generator"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/transform"
)

func newTask(b *testing.B, name string, n, payload int, steps [][3]string) *runtime.Task {
	b.Helper()
	return newTaskWith(b, name, n, payload, func(cfg *runtime.Config) {
		if len(steps) > 0 {
			// As the worker does: the chain, and a builder of the reader's
			// own instance of it.
			cfg.Transforms = chain(b, steps...)
			cfg.NewChain = func() ([]runtime.NamedTransform, error) { return chain(b, steps...), nil }
		}
	})
}

// newTaskWith builds a generator → drop task whose config edit changes.
func newTaskWith(b *testing.B, name string, n, payload int, edit func(*runtime.Config)) *runtime.Task {
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
	cfg := runtime.Config{
		Connector: name, Source: src, Sink: sink,
		Committer: runtime.CommitFunc(func(map[string]api.Position) error { return nil }),
	}
	edit(&cfg)
	task, err := runtime.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return task
}

// runs numbers the pipeline runs, so each has a connector (and drop
// counter) of its own.
var runs atomic.Int64

func runPipeline(b *testing.B, payload int, steps ...[3]string) {
	// Ids such as orders-to-warehouse-0007-0-1234567 are as long as a UUID.
	name := runName()
	measure(b, name, payload, newTask(b, name, b.N, payload, steps))
}

// runName names one pipeline run: every run's name has the same length,
// so its events do.
func runName() string {
	name := fmt.Sprintf("orders-to-warehouse-%04d", runs.Add(1)%10000)
	drop.Reset(name)
	return name
}

// measure runs task, a generator → drop pipeline of b.N events under
// name, as the benchmark's timed part, checks that drop saw every event
// and reports events/s.
func measure(b *testing.B, name string, payload int, task *runtime.Task) {
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
			runPipeline(b, payload)
		})
	}
}

func chain(b *testing.B, steps ...[3]string) []runtime.NamedTransform {
	b.Helper()
	var out []runtime.NamedTransform
	for _, s := range steps {
		var plugin api.TransformPlugin
		for _, p := range transform.Plugins() {
			if p.Name == s[0] {
				plugin = p
			}
		}
		raw := map[string]string{}
		if err := json.Unmarshal([]byte(s[2]), &raw); err != nil {
			b.Fatal(err)
		}
		cfg, err := plugin.Spec.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		t, err := plugin.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, runtime.NamedTransform{Name: s[1], Transform: t})
	}
	return out
}

// BenchmarkChain measures what the transform chain adds to generator (1 KB
// events) → drop: a filter with a 3-condition pattern that keeps every
// event, then a 4-variable JSON template that rewrites each event's data.
func BenchmarkChain(b *testing.B) {
	filter := [3]string{"filter", "keep", `{"pattern": "{\"source\": [{\"prefix\": \"/ferry/\"}], \"data\": {\"seq\": [{\"numeric\": [\">=\", 0]}], \"task\": [0]}}"}`}
	tmpl := [3]string{"template", "shape", `{"form": "TEMPLATE", "value": "{\"seq\": \"$.data.seq\", \"task\": \"$.data.task\", \"id\": \"$.id\", \"type\": \"$.type\"}", "template": "{\"n\": ${seq}, \"t\": ${task}, \"event\": \"${id}\", \"kind\": \"${type}\"}"}`}
	b.Run("none", func(b *testing.B) { runPipeline(b, 1024) })
	b.Run("filter", func(b *testing.B) { runPipeline(b, 1024, filter) })
	b.Run("filter+template", func(b *testing.B) { runPipeline(b, 1024, filter, tmpl) })
}

// BenchmarkChainApply is the chain's own cost per generator (1 KB) event,
// without the pipeline: each transform's Apply on records of a batch.
func BenchmarkChainApply(b *testing.B) {
	filter := [3]string{"filter", "keep", `{"pattern": "{\"source\": [{\"prefix\": \"/ferry/\"}], \"data\": {\"seq\": [{\"numeric\": [\">=\", 0]}], \"task\": [0]}}"}`}
	tmpl := [3]string{"template", "shape", `{"form": "TEMPLATE", "value": "{\"seq\": \"$.data.seq\", \"task\": \"$.data.task\", \"id\": \"$.id\", \"type\": \"$.type\"}", "template": "{\"n\": ${seq}, \"t\": ${task}, \"event\": \"${id}\", \"kind\": \"${type}\"}"}`}
	for _, c := range []struct {
		name  string
		steps [][3]string
	}{{"filter", [][3]string{filter}}, {"template", [][3]string{tmpl}}, {"filter+template", [][3]string{filter, tmpl}}} {
		b.Run(c.name, func(b *testing.B) {
			gcfg, err := generator.Source.Spec.Parse(map[string]string{"payload.bytes": "1024"})
			if err != nil {
				b.Fatal(err)
			}
			src, err := generator.Source.New(api.TaskConfig{Connector: "orders-to-warehouse-0000", Tasks: 1, Config: gcfg})
			if err != nil {
				b.Fatal(err)
			}
			recs, err := src.Read(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			ch := chain(b, c.steps...)
			data := make([][]byte, len(recs))
			for i := range recs {
				data[i] = recs[i].Event.Data
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := &recs[i]
				r.Event.Data, r.Event.DataContentType = data[i], "application/json"
				for _, t := range ch {
					if keep, err := t.Transform.Apply(r); !keep || err != nil {
						b.Fatal(keep, err)
					}
				}
				if i++; i == len(recs) {
					i = 0
				}
			}
		})
	}
}
