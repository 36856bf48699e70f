package runtime_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
)

// agedSource emits n records, every other one with a CloudEvents time
// age before it is read and the others with no time, then ends.
type agedSource struct {
	n, next int
	age     time.Duration
}

func (s *agedSource) Open(context.Context) error  { return nil }
func (s *agedSource) Close(context.Context) error { return nil }
func (s *agedSource) Read(context.Context) ([]api.Record, error) {
	if s.next >= s.n {
		return nil, api.ErrEndOfInput
	}
	out := make([]api.Record, 0, 10)
	for ; s.next < s.n && len(out) < cap(out); s.next++ {
		r := api.Record{Event: api.Event{ID: "e-" + strconv.Itoa(s.next), Source: "/t", Type: "t"}, Partition: "p",
			Position: api.Position(strconv.Itoa(s.next))}
		if s.next%2 == 0 {
			r.Event.Time = time.Now().Add(-s.age)
		}
		out = append(out, r)
	}
	return out, nil
}

// TestLatencyCountsDeliveredRecordsFromTheirEventTime: records the sink
// acknowledged are in the histogram, aged by their CloudEvents time or,
// without one, by the time they were read; records a transform dropped
// are not.
func TestLatencyCountsDeliveredRecordsFromTheirEventTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sink api.Sink
	}{
		{"plain sink", &memSink{}},
		{"flushing sink", &flushSink{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lat := &runtime.Latency{}
			_, err := run(t, runtime.Config{
				Source: &agedSource{n: 200, age: 2 * time.Second}, Sink: tc.sink, Committer: &memCommitter{},
				Transforms: []runtime.NamedTransform{{Name: "drop-mod-4", Transform: dropEvery4th{}}},
				Latency:    lat,
			})
			if err != nil {
				t.Fatal(err)
			}
			s := lat.Snapshot()
			// 150 delivered: 50 aged (even, not a multiple of 4) and 100 fresh.
			if s.Count != 150 {
				t.Fatalf("count %d, want the 150 delivered records", s.Count)
			}
			le := func(bound float64) uint64 {
				for i, b := range runtime.LatencyBuckets {
					if b == bound {
						return s.Buckets[i]
					}
				}
				t.Fatalf("no bucket %v", bound)
				return 0
			}
			if n := le(1); n != 100 {
				t.Errorf("%d records within 1 s, want the 100 without an event time", n)
			}
			if n := le(5); n != 150 {
				t.Errorf("%d records within 5 s, want all 150", n)
			}
			if min := 50 * 2 * time.Second; s.Sum < min {
				t.Errorf("sum %v, want at least %v", s.Sum, min)
			}
		})
	}
}

// dropEvery4th drops the records whose position is a multiple of 4.
type dropEvery4th struct{}

func (dropEvery4th) Apply(r *api.Record) (bool, error) {
	n, _ := strconv.Atoi(string(r.Position))
	return n%4 != 0, nil
}

// TestLagTimeGrowsWhileTheSinkIsStuck: while the sink holds a write the
// lag in time grows with the clock; once it lets go, the lag falls back
// to what a record takes.
func TestLagTimeGrowsWhileTheSinkIsStuck(t *testing.T) {
	t.Parallel()
	sink := &gateSink{}
	task, err := runtime.New(runtime.Config{
		Source: &countSource{n: 1 << 30, batch: 1, delay: 2 * time.Millisecond}, Sink: sink, Committer: &memCommitter{},
		MaxInFlightRecords: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- task.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor := func(what string, ok func(runtime.Snapshot) bool) runtime.Snapshot {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			m := task.Metrics()
			if ok(m) {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s (lag %v, acked %d)", what, m.LagTime, m.SinkRecordAckTotal)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("records delivered", func(m runtime.Snapshot) bool { return m.SinkRecordAckTotal > 20 })

	sink.gate.Lock()
	stuck := waitFor("lag above 300ms with the sink stuck", func(m runtime.Snapshot) bool { return m.LagTime > 300*time.Millisecond })
	time.Sleep(200 * time.Millisecond)
	if later := task.Metrics(); later.LagTime < stuck.LagTime+150*time.Millisecond {
		t.Errorf("lag went from %v to %v in 200ms with the sink stuck; want it to grow with the clock", stuck.LagTime, later.LagTime)
	}
	sink.gate.Unlock()
	acked := task.Metrics().SinkRecordAckTotal
	waitFor("lag back under 100ms after the sink let go", func(m runtime.Snapshot) bool {
		return m.SinkRecordAckTotal > acked+20 && m.LagTime < 100*time.Millisecond
	})
}

// gateSink takes every write, but only while its gate is open: a test
// holds gate to stop the sink.
type gateSink struct{ gate sync.Mutex }

func (s *gateSink) Open(context.Context) error  { return nil }
func (s *gateSink) Close(context.Context) error { return nil }
func (s *gateSink) Write(context.Context, []api.Record) error {
	s.gate.Lock()
	defer s.gate.Unlock()
	return nil
}
