// Package rocketmq is the cluster-mode offset.Store: connector
// definitions, source offsets and task status replicated through RocketMQ
// topics, so that every worker of a Ferry cluster materialises the same
// state. It passes the offset/storetest conformance suite against a real
// broker. docs/cluster-store.md describes the topics, the record format,
// the snapshot scheme and recovery in full.
//
// # Topics
//
// Open creates, if missing, four topics named after Config.Cluster:
// ferry-<cluster>-config (one queue: connector puts and deletes in total
// order), -offsets and -status (Config.Queues queues; a connector's
// records always go to the queue its name hashes to, so they stay
// ordered) and -snapshots (one queue of snapshot chunks).
//
// # Reading and applying
//
// Every store reads every queue of every topic itself, from explicit
// offsets (no consumer group shares the work), and applies each record
// with the rules of offset.Memory. The rules depend only on the records
// and their queue order, never on who applies them: a commit from an
// older generation than the partition's is fenced when it is applied, on
// every worker alike, and a connector's Revision is its config-topic
// offset + 1. So all workers converge on one state whoever wrote what.
//
// # Writes
//
// A write sends one record (a sync send, retried with backoff while the
// broker is unreachable, until ctx ends) and returns only after this
// store's own reader has applied it: read-your-writes, and the outcome
// (ErrFenced, ErrNotFound, the new Revision) is the one every worker
// computes. CommitOffsets also checks the local view first and returns
// ErrFenced without writing when it already holds a newer generation.
// Other workers' writes become visible here as soon as the reader
// applies them (milliseconds on a LAN; the broker pushes new records to
// a waiting read).
//
// # Snapshots
//
// Once SnapshotEvery records follow the newest snapshot it knows of, or
// once that snapshot is MaxSnapshotAge old (so an idle cluster's state
// outlives the broker's deletion of old files), a store writes the full
// state of every topic, with the queue offsets it covers, to the snapshot
// topic (chunked under the broker's 4 MiB message limit). Open reads that
// queue backwards from its end to the newest complete snapshot of each
// topic and then replays only the tail after it, so old commit-log files
// may be deleted by age. If the broker already deleted records that no
// snapshot covers, Open refuses with ErrLostRecords rather than start
// with incomplete state (Config.AcceptLostRecords overrides, once).
//
// # Watching
//
// Subscribe delivers a Change (kind, connector, writer) for every record
// applied, written by any worker, without ever blocking the store; a
// subscriber that falls behind receives ChangeResync.
//
// # Concurrency
//
// All methods are safe for concurrent use. Reads never touch the network.
// Close is idempotent: it stops the readers and the snapshotter, waits for
// them, and makes calls in flight and later calls return
// offset.ErrClosed.
package rocketmq
