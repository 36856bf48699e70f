package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferryhq/ferry/internal/rmqlog"
	"github.com/ferryhq/ferry/internal/testbed/rocketmqtest"
	"github.com/ferryhq/ferry/state"
	ferryworker "github.com/ferryhq/ferry/worker"
)

// TestRocketMQPositionMap replicates an 8-queue topic into another with
// two tasks and checks the rocketmq sink's position map against the
// copies: two topics on the test bed's one broker stand in for two
// clusters. Every sync point must name the target message that copies
// the source message just before its Next (the properties CE_rocketmqqueue
// and CE_rocketmqoffset of body=binary say which), and a translation of
// consumer offsets (none, half and all of each queue consumed) must start
// each target queue at or before every copy of a message the consumer has
// not consumed — and past the start when it consumed half.
func TestRocketMQPositionMap(t *testing.T) {
	t.Parallel()
	in, out := newRMQTopic(t, "ferry-map-in", 8), newRMQTopic(t, "ferry-map-out", 8)
	broker := brokerName(t, in.namesrv, in.name)
	const n = 8000  // 1,000 per queue; key k in queue k mod 8
	rmqlog.Ensure() // before the producer logs, as the worker's sink would
	p := newR2RProducer(t, in.namesrv)
	produceR2R(t, p, in.name, broker, 0, n, 0)
	_ = p.Shutdown()

	w := runRMQWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := w.CreateConnector(ctx, "rmq-map", merge(out.sinkConfig(), map[string]string{
		"source": "rocketmq", "source.nameservers": in.namesrv, "source.topic": in.name, "source.pull.hold": "500ms",
		"tasks.max": "2", "sink.body": "binary", "sink.batch.size": "50",
	}), state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every message copied", 90*time.Second, func() bool { return out.total() >= n })

	// Where each copy is: source queue and offset → target queue, offset.
	type at struct {
		queue string
		off   int64
	}
	src := map[at]at{} // target → source
	copies := map[at][]at{}
	out.each(func(q int, m *primitive.MessageExt) {
		sq, err1 := strconv.Atoi(m.GetProperty("CE_rocketmqqueue"))
		so, err2 := strconv.ParseInt(m.GetProperty("CE_rocketmqoffset"), 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("target %d@%d: CE_rocketmqqueue %q CE_rocketmqoffset %q", q, m.QueueOffset, m.GetProperty("CE_rocketmqqueue"), m.GetProperty("CE_rocketmqoffset"))
		}
		s := at{fmt.Sprintf("%s/%s/%d", in.name, broker, sq), so}
		tgt := at{fmt.Sprintf("%s/%s/%d", out.name, broker, q), m.QueueOffset}
		src[tgt] = s
		copies[s] = append(copies[s], tgt)
	})

	endsOf, err := rocketmqtest.Ends(ctx, out.broker, out.name, 8)
	if err != nil {
		t.Fatal(err)
	}
	ends := map[string]int64{}
	for q, e := range endsOf {
		ends[fmt.Sprintf("%s/%s/%d", out.name, broker, q)] = e
	}

	maps, err := w.PositionMaps(ctx, "rmq-map")
	if err != nil || len(maps.Partitions) != 8 {
		t.Fatalf("maps: %d partitions, %v; want 8", len(maps.Partitions), err)
	}
	syncs, spread := 0, 0
	from := map[string]int64{}
	for _, pm := range maps.Partitions {
		// 0 unless the task restarted before the map was read (its
		// committed position then).
		from[pm.Partition] = pm.From
		if pm.From < 0 || pm.From > n/8 {
			t.Errorf("%s: from %d, want 0 … %d", pm.Partition, pm.From, n/8)
		}
		spread += len(pm.Targets)
		for _, ts := range pm.Targets {
			if len(ts.Syncs) == 0 {
				t.Errorf("%s → %q: no sync after every send returned", pm.Partition, ts.Target)
			}
			for _, s := range ts.Syncs {
				syncs++
				got, ok := src[at{ts.Target, s.Offset}]
				if want := (at{pm.Partition, s.Next - 1}); !ok || got != want {
					t.Errorf("sync %s next %d → %s@%d: that target message copies %v, want %v", pm.Partition, s.Next, ts.Target, s.Offset, got, want)
				}
			}
		}
	}
	if spread <= 8 {
		t.Errorf("the 8 source queues reach %d target queue pairs; the test needs queues spread over several", spread)
	}
	t.Logf("map: 8 source queues over %d (source, target) pairs, %d sync points, from %v", spread, syncs, from)

	for _, consumed := range []int64{0, 500, 1000} {
		offsets := map[string]int64{}
		for q := range 8 {
			offsets[fmt.Sprintf("%s/%s/%d", in.name, broker, q)] = consumed
		}
		tr, err := w.TranslateOffsets(ctx, "rmq-map", offsets)
		if restarted := slices.ContainsFunc(maps.Partitions, func(pm ferryworker.PartitionMapInfo) bool { return pm.From > consumed }); restarted {
			// Messages before From were sent by an earlier run of the
			// task: nobody knows where, so nothing is translated.
			if err != nil || len(tr.Targets) != 0 || len(tr.Unknown) == 0 || tr.Unknown[0].Target != "" {
				t.Errorf("translate %d, before a map's from: %+v %v; want every target unknown", consumed, tr, err)
			}
			continue
		}
		if err != nil || len(tr.Unknown) != 0 || len(tr.Targets) != 8 {
			t.Fatalf("translate %d: %+v %v; want all 8 target queues", consumed, tr, err)
		}
		for s, cs := range copies {
			if s.off < offsets[s.queue] {
				continue
			}
			ok := false
			for _, c := range cs {
				ok = ok || c.off >= tr.Targets[c.queue]
			}
			if !ok {
				t.Fatalf("consumed %d: %s@%d (copies %v) is before the translated starts %v", consumed, s.queue, s.off, cs, tr.Targets)
			}
		}
		reread := int64(0)
		for q, off := range tr.Targets {
			if consumed > 0 && off == 0 || off > ends[q] {
				t.Errorf("consumed %d of each queue: %s starts at %d of %d", consumed, q, off, ends[q])
			}
			for o := off; o < ends[q]; o++ {
				if s := src[at{q, o}]; s.off < offsets[s.queue] {
					reread++
				}
			}
		}
		t.Logf("consumed %d of each source queue: the target starts re-read %d consumed messages", consumed, reread)
	}
}
