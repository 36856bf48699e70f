package drop

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/ferryhq/ferry/api"
)

// Sink is the drop sink plugin.
var Sink = api.SinkPlugin{
	Name:    "drop",
	Summary: "Discards every record, counting them; for benchmarks and tests.",
	Spec:    api.Spec{},
	New:     newSink,
}

// counters maps a connector name to its *atomic.Int64 count. Tasks of one
// connector share a counter, so a test sees the connector's total.
var counters sync.Map

func counter(connector string) *atomic.Int64 {
	c, _ := counters.LoadOrStore(connector, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// Count returns how many records the drop sinks of connector have
// discarded since the process started (or since [Reset]).
func Count(connector string) int64 { return counter(connector).Load() }

// Reset sets connector's count to zero.
func Reset(connector string) { counter(connector).Store(0) }

type sink struct{ n *atomic.Int64 }

func newSink(tc api.TaskConfig) (api.Sink, error) {
	return &sink{n: counter(tc.Connector)}, nil
}

func (s *sink) Open(context.Context) error { return nil }

func (s *sink) Write(_ context.Context, records []api.Record) error {
	s.n.Add(int64(len(records)))
	return nil
}

func (s *sink) Close(context.Context) error { return nil }
