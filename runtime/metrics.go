package runtime

import (
	"sync/atomic"
	"time"
)

// Snapshot is a point-in-time copy of a task's counters, named after Kafka
// Connect's source and sink task metrics.
type Snapshot struct {
	SourceRecordPollTotal  int64 // records returned by Source.Read
	SourceRecordWriteTotal int64 // records that reached the sink stage (after transforms)
	RecordFilteredTotal    int64 // dropped by a transform
	SinkRecordSendTotal    int64 // records passed to Sink.Write
	SinkRecordAckTotal     int64 // records acknowledged (written and flushed)
	RecordErrorTotal       int64 // records that failed (transform, sink)
	DeadLetterTotal        int64 // records written to the dead-letter sink
	RetryTotal             int64 // retried plugin calls
	BatchTotal             int64 // Sink.Write calls
	OffsetCommitTotal      int64 // successful commits
	OffsetCommitFailures   int64
	InFlightRecords        int64
	InFlightBytes          int64
	LastCommit             time.Time
	LastRecord             time.Time // last record read from the source
	PutBatchNanosTotal     int64     // total time in Sink.Write
	PollBatchNanosTotal    int64     // total time in Source.Read
	// Lag is the source's lag in records per partition when it is an
	// api.LagReporter (nil otherwise, or before it knows).
	Lag map[string]int64
	// LagTime is how far behind its source the task is, in time, as of
	// the snapshot: while records are in flight, now minus the event time
	// of the last record the sink acknowledged (never before the moment
	// the task last went from idle to busy, so a quiet source's first
	// record does not count the quiet as lag); with nothing in flight,
	// what the last acknowledged record took from its event time to its
	// acknowledgement. An event's time is its CloudEvents time, or the
	// time it was read when it has none. Zero before the first record.
	LagTime time.Duration
}

// lagTime is Snapshot.LagTime from the task's bookkeeping (unix nanos;
// 0 is never): the event time of the last acknowledged record, when it
// was acknowledged, when the task last went busy, and records in flight.
func lagTime(now, ackedEvent, ackedAt, busySince int64, inflight int) time.Duration {
	var d int64
	switch {
	case inflight > 0:
		d = now - max(ackedEvent, busySince)
	case ackedEvent != 0:
		d = ackedAt - ackedEvent
	}
	return time.Duration(max(d, 0))
}

// LatencyBuckets are the upper bounds, in seconds, of the end-to-end
// latency histogram: 1 ms to 1 h, about three per decade.
var LatencyBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
}

// latencyBounds are LatencyBuckets in nanoseconds, for the ack path.
var latencyBounds = func() [numLatencyBounds]int64 {
	var b [numLatencyBounds]int64
	for i, s := range LatencyBuckets {
		b[i] = int64(s * float64(time.Second))
	}
	return b
}()

const numLatencyBounds = 20

// Latency is an end-to-end latency histogram: from a record's event time
// (its CloudEvents time, or the time it was read when it has none) to the
// sink's acknowledgement of it. The worker keeps one per connector and
// passes it to each of the connector's tasks (Config.Latency), so its
// counts outlive task restarts. All methods are safe for concurrent use;
// recording allocates nothing.
type Latency struct {
	buckets [numLatencyBounds + 1]atomic.Uint64 // the last is +Inf
	sum     atomic.Int64                        // nanoseconds
}

// LatencySnapshot is a copy of a Latency: Buckets[i] counts the
// observations at most LatencyBuckets[i] (cumulative, as Prometheus
// exposes them); Count includes those above the last bound.
type LatencySnapshot struct {
	Count   uint64
	Sum     time.Duration
	Buckets []uint64
}

// Snapshot copies l. Count is the sum of the buckets read, so it agrees
// with them even while records are being recorded.
func (l *Latency) Snapshot() LatencySnapshot {
	s := LatencySnapshot{Sum: time.Duration(l.sum.Load()), Buckets: make([]uint64, numLatencyBounds)}
	var cum uint64
	for i := range l.buckets {
		cum += l.buckets[i].Load()
		if i < numLatencyBounds {
			s.Buckets[i] = cum
		}
	}
	s.Count = cum
	return s
}

// record books the latency of every record in metas, acknowledged at now
// (unix nanos). Counts gather on the stack and reach the shared atomics
// once per bucket touched, so a batch costs a few atomic adds. Records of
// a batch were read together, so each one's bucket is looked for from the
// previous one's.
func (l *Latency) record(now int64, metas []recMeta) {
	var counts [numLatencyBounds + 1]uint64
	var sum int64
	b := 0
	for i := range metas {
		d := max(now-metas[i].event, 0)
		sum += d
		for b > 0 && d <= latencyBounds[b-1] {
			b--
		}
		for b < numLatencyBounds && d > latencyBounds[b] {
			b++
		}
		counts[b]++
	}
	for b, n := range counts {
		if n != 0 {
			l.buckets[b].Add(n)
		}
	}
	l.sum.Add(sum)
}
