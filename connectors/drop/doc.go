// Package drop is a sink that discards every record and counts it, for
// benchmarks and for pipelines run only for their side effects.
//
// Write never fails and never blocks. [Count] returns how many records
// every drop sink of the process has discarded (per connector), so tests
// and benchmarks can assert on throughput without a real system. The sink
// has no configuration fields.
package drop
