package rocketmq

import (
	"cmp"
	"maps"
	"math/bits"
	"slices"
	"sync"

	"github.com/ferryhq/ferry/api"
)

// Bounds of the sink's position map (api.PositionMapper).
const (
	// maxTargetsPerPartition bounds the target queues one source
	// partition's map follows. A partition whose records reach more (a
	// topic taken from each event) is marked as sent to an unknown
	// target for good: it cannot be translated, never wrongly.
	maxTargetsPerPartition = 1024
	// maxSyncs bounds the sync points kept per source partition and
	// target queue, besides the first: one in each power-of-two distance
	// from the newest (65 buckets cover every int64 distance).
	maxSyncs = 65
)

// syncMap is the sink's position map: per source partition, per target
// queue, sync points from a record's source position (the next offset)
// to the offset its send returned. Sends to different queues run at once,
// so one mutex guards it; its methods do no I/O.
//
// The rule it serves (docs/rocketmq-source.md, "Moving consumers"): the
// sink sends one target queue's messages one send after another, and a
// source partition's records in their order, so every record of source
// partition S at or after a sync's Next that lands in target queue T
// lands after the sync's Offset; and before the first record of S reaches
// T, a pending entry (no syncs) says that T's offset is not known yet.
type syncMap struct {
	mu        sync.Mutex
	committed map[string]int64 // the positions the task started from
	parts     map[string]*partSyncs
}

// partSyncs is one source partition's map.
type partSyncs struct {
	from    int64
	unknown int // sends in flight to a target not learnt yet; -1: too many targets, for good
	targets map[string][]api.PositionSync
}

// newSyncMap starts a map from the positions the task was handed: a
// partition resumed from a committed position accounts for every message
// from there.
func newSyncMap(committed map[string]api.Position) *syncMap {
	m := &syncMap{committed: map[string]int64{}, parts: map[string]*partSyncs{}}
	for p, pos := range committed {
		if n, ok := parseNext(pos); ok {
			m.committed[p] = n
		}
	}
	return m
}

// parseNext reads a position that is a decimal offset (the rocketmq and
// kafka sources' positions) without allocating.
func parseNext(pos api.Position) (int64, bool) {
	if len(pos) == 0 || len(pos) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range pos {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// part returns partition p's map, creating it for a first record whose
// position is next.
// From is the committed position the task started from, else (or when
// lower) the lowest next-1 registered: a record's own offset is at most
// next-1 (a filter may have skipped some before next), and the sends of
// one Write register their records in any order.
func (m *syncMap) part(p string, next int64) *partSyncs {
	ps := m.parts[p]
	if ps == nil {
		from, ok := m.committed[p]
		if !ok || from > next-1 {
			from = next - 1
		}
		ps = &partSyncs{from: from, targets: map[string][]api.PositionSync{}}
		m.parts[p] = ps
	} else if next-1 < ps.from {
		ps.from = next - 1
	}
	return ps
}

// sending registers a send of msgs to target ("" when the producer picks
// the queue) before it starts: each source partition among them that has
// no entry for target gets a pending one (with "", a count of sends to
// an unknown target), so that no translation relies on target while the
// send's offsets are unknown. The caller calls done after the send
// returns.
func (m *syncMap) sending(target string, msgs []message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range msgs {
		mm := &msgs[i]
		if !mm.mapped {
			continue
		}
		ps := m.part(mm.part, mm.next)
		switch _, known := ps.targets[target]; {
		case ps.unknown < 0:
		case target == "":
			ps.unknown++
		case known:
		case len(ps.targets) >= maxTargetsPerPartition:
			ps.unknown = -1
		default:
			ps.targets[target] = nil
		}
	}
}

// done ends what sending(target, msgs) registered. When the send stored
// msgs (ok), they landed at base, base+1, … of stored (the queue the send
// returned): each source partition's first record there (when it has no
// sync yet) and its last one become sync points. A failed send leaves
// its pending entries pending: it may have been stored anyway (a
// timeout), and only the resend's offsets will be known.
func (m *syncMap) done(target string, msgs []message, ok bool, stored string, base int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range msgs {
		if !msgs[i].mapped {
			continue
		}
		ps := m.parts[msgs[i].part]
		if target == "" && ps.unknown > 0 {
			ps.unknown--
		}
		if ok && ps.unknown >= 0 && stored != "" {
			if _, known := ps.targets[stored]; !known && len(ps.targets) < maxTargetsPerPartition {
				ps.targets[stored] = nil
			}
		}
	}
	if !ok || stored == "" {
		return
	}
	// Firsts in order, then each partition's last.
	for i := range msgs {
		mm := &msgs[i]
		if !mm.mapped {
			continue
		}
		ps := m.parts[mm.part]
		if syncs, known := ps.targets[stored]; known && len(syncs) == 0 {
			ps.targets[stored] = addSync(syncs, api.PositionSync{Next: mm.next, Offset: base + int64(i)})
		}
	}
	var seen []string
	for i := len(msgs) - 1; i >= 0; i-- {
		mm := &msgs[i]
		if !mm.mapped || slices.Contains(seen, mm.part) {
			continue
		}
		seen = append(seen, mm.part)
		ps := m.parts[mm.part]
		syncs, known := ps.targets[stored]
		s := api.PositionSync{Next: mm.next, Offset: base + int64(i)}
		if known && syncs[len(syncs)-1] != s {
			ps.targets[stored] = addSync(syncs, s)
		}
	}
}

// addSync appends s to syncs (syncs[0], the first, stays) and thins the
// others to the oldest in each power-of-two distance below the newest
// (the newest is alone at distance 0), so translations near the head are
// close and older ones stay possible.
// A sync behind the newest (the records went back) drops every sync but
// the first, whose offset still bounds the rest.
func addSync(syncs []api.PositionSync, s api.PositionSync) []api.PositionSync {
	if len(syncs) == 0 {
		return append(syncs, s)
	}
	if n := len(syncs); n > 1 && s.Next < syncs[n-1].Next {
		syncs = syncs[:1]
	}
	syncs = append(syncs, s)
	// Walk from the oldest (after the first) to the newest, keeping the
	// oldest in each distance bucket: a sync moves to the next bucket as
	// the head moves on, and is dropped when an older one is there.
	kept := 1
	lastBucket := -1
	for i := 1; i < len(syncs); i++ {
		b := bits.Len64(uint64(s.Next - syncs[i].Next))
		if b == lastBucket {
			continue
		}
		lastBucket = b
		syncs[kept] = syncs[i]
		kept++
	}
	syncs = syncs[:kept]
	if len(syncs) > maxSyncs {
		syncs = append(syncs[:1], syncs[len(syncs)-maxSyncs+1:]...)
	}
	return syncs
}

// snapshot is the map as api.PositionMapper returns it: partitions and
// targets in name order, copies the caller may keep.
func (m *syncMap) snapshot() []api.PartitionMap {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.parts) == 0 {
		return nil
	}
	out := make([]api.PartitionMap, 0, len(m.parts))
	for _, p := range slices.Sorted(maps.Keys(m.parts)) {
		ps := m.parts[p]
		pm := api.PartitionMap{Partition: p, From: ps.from}
		if ps.unknown != 0 {
			pm.Targets = append(pm.Targets, api.TargetSyncs{})
		}
		for _, t := range slices.Sorted(maps.Keys(ps.targets)) {
			pm.Targets = append(pm.Targets, api.TargetSyncs{Target: t, Syncs: slices.Clone(ps.targets[t])})
		}
		out = append(out, pm)
	}
	slices.SortFunc(out, func(a, b api.PartitionMap) int { return cmp.Compare(a.Partition, b.Partition) })
	return out
}
