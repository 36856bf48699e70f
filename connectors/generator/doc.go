// Package generator is a source of synthetic CloudEvents, for demos, tests
// and the throughput benchmark.
//
// Every task t emits events numbered seq = 0, 1, 2, … in partition
// "task-<t>"; the position of an event is its seq as decimal text, and a
// restarted task resumes at the committed seq + 1 exactly. An event has
//
//	id      <connector>-<t>-<seq>      (deterministic: a replay keeps it)
//	source  /ferry/generator/<connector>
//	type    ferry.generator.v1
//	time    the wall-clock time of the Read that produced it (not
//	        deterministic: a replayed event gets a new time)
//	data    {"seq":N,"task":T,"payload":"abcd…"}   (application/json)
//
// The payload is padding chosen so that data is about payload.bytes long.
//
// # Configuration
//
//	field          type   default  description
//	count          int    0        Events per task; after them Read returns end of input. 0 means endless.
//	rate           float  0        Events per second per task; 0 means as fast as possible.
//	payload.bytes  int    64       Approximate size of each event's data in bytes.
//	batch.size     int    1024     Most records returned by one Read.
//
// # Performance
//
// Read is the hot path of Ferry's throughput benchmark. It allocates per
// batch, not per record: the data, positions and ids of a whole batch are
// carved from one byte slab and one string, each record owning a disjoint,
// capacity-limited part of it, so records stay independent as the engine
// requires.
package generator
