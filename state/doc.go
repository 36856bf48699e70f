// Package state keeps what a Ferry worker must not lose: connector configs
// and their target states, task status, and source offsets, behind one
// small Store interface.
//
// Implementations: NewMemory (tests), OpenBolt (standalone mode, an
// embedded bbolt file in the data directory) and, in cluster mode, a store
// replicated through RocketMQ topics (package state/rocketmq). Every
// implementation passes the suite in package state/storetest.
//
// Which positions are safe to commit is not decided here: the runtime's
// ack watermark (runtime.Watermark) decides, and hands the result to
// Store.CommitOffsets.
package state
