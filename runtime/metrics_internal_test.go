package runtime

import (
	"slices"
	"testing"
	"time"
)

func TestLagTime(t *testing.T) {
	t.Parallel()
	const s = int64(time.Second)
	for _, tc := range []struct {
		name                                string
		now, ackedEvent, ackedAt, busySince int64
		inflight                            int
		want                                time.Duration
	}{
		{"nothing read yet", 100 * s, 0, 0, 0, 0, 0},
		{"first records in flight, none acknowledged", 100 * s, 0, 0, 97 * s, 5, 3 * time.Second},
		{"sink stuck: now minus the last acknowledged event", 100 * s, 40 * s, 41 * s, 30 * s, 500, 60 * time.Second},
		{"busy again after a quiet spell: the quiet is not lag", 100 * s, 10 * s, 11 * s, 99 * s, 1, time.Second},
		{"caught up: what the last record took", 100 * s, 40 * s, 42 * s, 30 * s, 0, 2 * time.Second},
		{"caught up on old events: still behind by their age", 100 * s, 10 * s, 99 * s, 98 * s, 0, 89 * time.Second},
		{"event time in the future (clock skew)", 100 * s, 200 * s, 99 * s, 98 * s, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := lagTime(tc.now, tc.ackedEvent, tc.ackedAt, tc.busySince, tc.inflight); got != tc.want {
				t.Errorf("lagTime = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLatencyBuckets(t *testing.T) {
	t.Parallel()
	if len(LatencyBuckets) != numLatencyBounds || !slices.IsSorted(LatencyBuckets) {
		t.Fatalf("LatencyBuckets %v: want %d increasing bounds", LatencyBuckets, numLatencyBounds)
	}
	if LatencyBuckets[0] != 0.001 || LatencyBuckets[numLatencyBounds-1] != 3600 {
		t.Errorf("buckets span %v–%v s, want 1 ms – 1 h", LatencyBuckets[0], LatencyBuckets[numLatencyBounds-1])
	}
	var l Latency
	now := int64(10 * time.Hour)
	at := func(ago time.Duration) recMeta { return recMeta{event: now - int64(ago)} }
	// A bound belongs to its bucket (Prometheus's le); the future counts as 0.
	l.record(now, []recMeta{at(time.Millisecond), at(time.Millisecond + 1), at(-time.Second), at(2 * time.Hour), at(3 * time.Second)})
	s := l.Snapshot()
	if s.Count != 5 {
		t.Fatalf("count %d, want 5", s.Count)
	}
	want := map[int]uint64{0: 2, 1: 3, 10: 3, 11: 4, numLatencyBounds - 1: 4}
	for i, n := range want {
		if s.Buckets[i] != n {
			t.Errorf("bucket le=%v holds %d, want %d (all: %v)", LatencyBuckets[i], s.Buckets[i], n, s.Buckets)
		}
	}
	if wantSum := time.Millisecond + time.Millisecond + 1 + 2*time.Hour + 3*time.Second; s.Sum != wantSum {
		t.Errorf("sum %v, want %v", s.Sum, wantSum)
	}
}

// BenchmarkLatencyRecord is the ack path's added cost per record: one
// batch of 1024 records, ages spread over the buckets.
func BenchmarkLatencyRecord(b *testing.B) {
	var l Latency
	now := int64(10 * time.Hour)
	metas := make([]recMeta, 1024)
	for i := range metas {
		metas[i].event = now - int64(i)*int64(time.Millisecond)/4
	}
	b.ReportAllocs()
	for b.Loop() {
		l.record(now, metas)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(metas)), "ns/record")
}
