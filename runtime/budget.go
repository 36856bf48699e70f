package runtime

// Defaults of the in-flight budget (Config.MaxInFlightRecords and
// MaxInFlightBytes; a connector's buffer.max.records and buffer.max.bytes).
//
// The budget bounds the records read but not yet acknowledged, so it caps
// a task's live heap, and with the worker's GOGC=400 the heap the collector
// lets grow is about five times that. The old fixed 16,384 records / 64 MiB
// let one task with a slow sink hold ~20 MB of 1 KB events (a heap goal near
// 100 MB); these defaults hold a few batches, enough to keep the reader,
// chain and writer busy (docs/benchmarks.md, "Memory per connector"). A
// connector that needs deeper buffers (a sink with long writes, large
// transactions) raises them.
const (
	DefaultMaxInFlightRecords = 2048
	DefaultMaxInFlightBytes   = 4 << 20
)
