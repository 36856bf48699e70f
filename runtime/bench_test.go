package runtime_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
)

// benchSource hands out b.N records of a 1 KB payload in batches of 1024,
// reusing one immutable payload so the benchmark measures the engine, not
// the source.
type benchSource struct {
	n, next int
	payload []byte
}

func (s *benchSource) Open(context.Context) error  { return nil }
func (s *benchSource) Close(context.Context) error { return nil }
func (s *benchSource) Read(ctx context.Context) ([]api.Record, error) {
	if s.next >= s.n {
		return nil, api.ErrEndOfInput
	}
	k := min(1024, s.n-s.next)
	out := make([]api.Record, k)
	for i := range out {
		out[i] = api.Record{
			Event:     api.Event{ID: "id", Source: "/bench", Type: "t", Data: s.payload},
			Partition: "task-0",
			Position:  api.Position(strconv.Itoa(s.next + i)),
		}
	}
	s.next += k
	return out, nil
}

type nullSink struct{ n int }

func (s *nullSink) Open(context.Context) error  { return nil }
func (s *nullSink) Close(context.Context) error { return nil }
func (s *nullSink) Write(_ context.Context, r []api.Record) error {
	s.n += len(r)
	return nil
}

// BenchmarkEngine measures the runtime's per-record overhead (tracking,
// budget, batching, acking, committing) with a no-op chain.
func BenchmarkEngine(b *testing.B) {
	payload := make([]byte, 1024)
	for i := range payload {
		payload[i] = 'x'
	}
	payload[0], payload[len(payload)-1] = '"', '"'
	sink := &nullSink{}
	lat := &runtime.Latency{} // as the worker runs every task
	task, err := runtime.New(runtime.Config{
		Source: &benchSource{n: b.N, payload: payload}, Sink: sink,
		Committer: runtime.CommitFunc(func(map[string]api.Position) error { return nil }),
		Latency:   lat,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := task.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if sink.n != b.N {
		b.Fatalf("sink got %d of %d", sink.n, b.N)
	}
	if n := lat.Snapshot().Count; n != uint64(b.N) {
		b.Fatalf("latency histogram counted %d of %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
