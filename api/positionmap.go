package api

import "slices"

// PositionMapper is an optional Sink capability for replication: a sink
// that learns where each record landed in its system (the queue and
// offset a send returns) keeps, per source partition, sync points from
// the records' source positions to those places, so that a consumer of
// the source system can move to the copy without skipping a message (the
// offset syncs of Kafka MirrorMaker 2). Only sources whose positions are
// decimal offsets naming the next record to read (a consumer's committed
// offset: the rocketmq and kafka sources) can be mapped; a sink maps no
// record whose position is not one.
//
// The engine reads it for the REST API, from any goroutine, concurrently
// with every other method and also before Open and after Close;
// PositionMap must not block or do I/O, and returns values the caller may
// keep (nil when the sink has mapped nothing). A map lives as long as the
// sink: a restarted task starts a new one.
type PositionMapper interface {
	PositionMap() []PartitionMap
}

// PartitionMap is what a PositionMapper knows of one source partition.
type PartitionMap struct {
	Partition string
	// From is the first source offset the map accounts for: every
	// message of the partition at or after From that reaches the sink is
	// written by this sink (the task resumed at From or before; a copy
	// an earlier run wrote may exist too). A consumer whose offset is
	// before From cannot be translated.
	From int64
	// Targets lists the target partitions the partition's records were
	// sent to, in name order.
	Targets []TargetSyncs
}

// TargetSyncs is one target partition's sync points for a source
// partition.
type TargetSyncs struct {
	// Target names the target partition (for RocketMQ
	// <topic>/<broker>/<queue>). Empty: a send of the source partition's
	// records is in flight to a target the sink has not learnt yet, so
	// no target can be translated until it returns.
	Target string
	// Syncs are sync points in the order they were made. The first is
	// the source partition's first record sent to Target since the sink
	// opened, kept while the sink runs. Empty while that first send is in
	// flight: Target is then not translatable.
	Syncs []PositionSync
}

// PositionSync says that the record of the source partition just before
// source offset Next was stored at Offset in the target partition.
type PositionSync struct {
	Next   int64 // the record's source position: the offset of the next record to read
	Offset int64 // the record's offset in the target partition
}

// OffsetTranslation is where a consumer of the source system starts in
// the target system: TranslateOffsets' answer.
type OffsetTranslation struct {
	// Targets holds, per target partition some source partition's
	// records reached, the offset to start it from: at or before every
	// message written there from a source message the consumer has not
	// consumed. A target partition in neither Targets nor Unknown
	// received none of those messages yet; start it at its end offset
	// read before the translation was asked for.
	Targets map[string]int64
	// Unknown lists what could not be translated: a target partition
	// ("" for every one) and why. Those targets have no entry in Targets.
	Unknown []Untranslated
}

// Untranslated is a target partition of an OffsetTranslation without a
// safe offset, because of source partition Partition.
type Untranslated struct {
	Target    string // "" for every target partition
	Partition string
	Reason    string
}

// TranslateOffsets translates a consumer's offsets in the source system
// (per source partition, the next offset it reads) into offsets of the
// target partitions, from the maps of every task of a connector and the
// connector's committed offsets (per source partition, the next offset),
// so that the consumer skips no message (it may read some again):
//
//   - a source partition no map names has sent nothing since its task
//     started, from its committed offset on: when the consumer is at or
//     after it, its later messages are not written yet and bound nothing;
//     otherwise (or with no committed offset) every target is unknown;
//   - a consumer before a map's From: every target is unknown (the
//     messages between were written by an earlier run, nobody knows
//     where);
//   - per target of a map: after the newest sync whose Next is at or
//     before the consumer's offset, its Offset+1 (that record was
//     consumed, and the partition's later records land after it); with
//     none, the first sync's Offset; with no sync yet (a first send in
//     flight), unknown; a target "" makes every target unknown;
//   - a target partition receives several source partitions' records:
//     its offset is the smallest any of them asks for.
//
// Every source partition the consumer has an offset for must be given;
// the maps of partitions not in consumer are ignored.
func TranslateOffsets(maps []PartitionMap, committed, consumer map[string]int64) OffsetTranslation {
	out := OffsetTranslation{Targets: map[string]int64{}}
	unknown := map[string]bool{}
	all := false
	lost := func(target, partition, reason string) {
		out.Unknown = append(out.Unknown, Untranslated{Target: target, Partition: partition, Reason: reason})
		unknown[target] = true
		if target == "" {
			all = true
		}
	}
	named := map[string]bool{}
	for _, m := range maps {
		named[m.Partition] = true
	}
	for _, p := range sortedKeys(consumer) {
		if named[p] {
			continue
		}
		f, ok := committed[p]
		switch {
		case !ok:
			lost("", p, "no position is committed and no record of the partition was written since its task started")
		case consumer[p] < f:
			lost("", p, "the consumer's offset is before the connector's committed offset, and no record of the partition was written since its task started")
		}
	}
	for _, m := range maps {
		c, ok := consumer[m.Partition]
		if !ok {
			continue
		}
		if c < m.From {
			lost("", m.Partition, "the consumer's offset is before the first offset the map accounts for")
			continue
		}
		for _, ts := range m.Targets {
			if ts.Target == "" {
				lost("", m.Partition, "a send to a target not known yet is in flight; ask again")
				continue
			}
			if len(ts.Syncs) == 0 {
				lost(ts.Target, m.Partition, "the first send to the target is in flight; ask again")
				continue
			}
			at, best := ts.Syncs[0].Offset, int64(-1)
			for _, s := range ts.Syncs {
				if s.Next <= c && (s.Next > best || s.Next == best && s.Offset+1 < at) {
					at, best = s.Offset+1, s.Next
				}
			}
			if cur, ok := out.Targets[ts.Target]; !ok || at < cur {
				out.Targets[ts.Target] = at
			}
		}
	}
	for t := range out.Targets {
		if all || unknown[t] {
			delete(out.Targets, t)
		}
	}
	return out
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
