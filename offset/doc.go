// Package offset keeps what a Ferry worker must not lose: source offsets,
// connector configs and target states, and task status, behind one small
// Store interface; and it computes ack watermarks, the rule that decides
// which source positions are safe to commit.
//
// Implementations: NewMemory (tests), OpenBolt (standalone mode, an
// embedded bbolt file in the data directory) and, in cluster mode, a store
// replicated through RocketMQ topics. Every implementation passes the suite
// in package offset/storetest.
//
// Watermark is a deterministic core with no I/O: feed it the positions a
// task read, in order, and the acknowledgements the sink returned, in any
// order; it tells which position per partition is safe to commit.
package offset
