package rocketmq

import (
	"fmt"
	"strings"
)

// queueStart is what Open knows of one store queue before it reads it:
// how far the newest snapshot found covers it, and where the broker's
// copy of it begins now (RocketMQ deletes commit-log files by age).
type queueStart struct {
	queue    queue
	covered  int64 // first offset the snapshot does not include; 0 without one
	snapshot bool  // a snapshot covers this queue
	first    int64 // the queue's earliest offset still on the broker
}

// lost reports whether records the state needs are gone: the snapshot
// (or, without one, offset 0) ends before the broker's first record.
func (q queueStart) lost() bool { return q.first > q.covered }

// from is where the queue's reader starts: after the snapshot, or at the
// first record still stored when even that is later.
func (q queueStart) from() int64 { return max(q.covered, q.first) }

// lostRecords returns the queues whose state cannot be rebuilt: records
// were deleted that no snapshot covers. Open refuses to start on any.
func lostRecords(qs []queueStart) []queueStart {
	var lost []queueStart
	for _, q := range qs {
		if q.lost() {
			lost = append(lost, q)
		}
	}
	return lost
}

// lostError is the error Open returns for lost, naming every topic and
// offset and how to recover.
func lostError(lost []queueStart) error {
	var b strings.Builder
	for i, q := range lost {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "topic %s queue %s/%d: ", q.queue.topic, q.queue.broker, q.queue.id)
		if q.snapshot {
			fmt.Fprintf(&b, "the newest snapshot covers offsets below %d", q.covered)
		} else {
			b.WriteString("no snapshot covers it")
		}
		fmt.Fprintf(&b, " but the broker's earliest stored offset is %d (offsets %d-%d deleted)", q.first, q.covered, q.first-1)
	}
	return fmt.Errorf("%w: %s. Starting would run with incomplete connectors, offsets or statuses. "+
		"Restore the store topics from a backup taken before the deletion, or start one worker once with "+
		"AcceptLostRecords (ferry worker --store-accept-lost-records) to keep what remains (it writes a new snapshot, later starts are normal), "+
		"or start afresh under a new cluster name; see docs/cluster-store.md, \"Lost records\"", ErrLostRecords, b.String())
}
