package bench

import (
	"testing"

	"github.com/ferryhq/ferry/internal/cputime"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/trace"
)

// BenchmarkTracing is what event tracing costs generator (1 KB events) →
// filter + template → drop, as BenchmarkChain's filter+template: off (no
// recorder) against the default sample rate (one event in a thousand
// traced in full, with the worker's default bounds). Run the two back to
// back, alternating, and compare per round (docs/benchmarks.md); cpu-ns/op
// is the process's CPU time per event, which a loaded host stretches less
// than wall time.
func BenchmarkTracing(b *testing.B) {
	filter := [3]string{"filter", "keep", `{"pattern": "{\"source\": [{\"prefix\": \"/ferry/\"}], \"data\": {\"seq\": [{\"numeric\": [\">=\", 0]}], \"task\": [0]}}"}`}
	tmpl := [3]string{"template", "shape", `{"form": "TEMPLATE", "value": "{\"seq\": \"$.data.seq\", \"task\": \"$.data.task\", \"id\": \"$.id\", \"type\": \"$.type\"}", "template": "{\"n\": ${seq}, \"t\": ${task}, \"event\": \"${id}\", \"kind\": \"${type}\"}"}`}
	for _, c := range []struct {
		name string
		rate float64
		on   bool
	}{{"off", 0, false}, {"default", trace.DefaultSampleRate, true}} {
		b.Run(c.name, func(b *testing.B) {
			rec, err := trace.NewRecorder(trace.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			name := runName()
			task := newTaskWith(b, name, b.N, 1024, func(cfg *runtime.Config) {
				cfg.Transforms = chain(b, filter, tmpl)
				cfg.NewChain = func() ([]runtime.NamedTransform, error) { return chain(b, filter, tmpl), nil }
				if c.on {
					cfg.Tracer, cfg.TraceSampleRate = rec, c.rate
				}
			})
			cpu := cputime.Self()
			measure(b, name, 1024, task)
			// CPU time per event counts what tracing adds even when the
			// host's other load stretches wall time.
			b.ReportMetric(float64(cputime.Self()-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(rec.Stats().Traces), "traces")
		})
	}
}
