package runtime

// Defaults of the in-flight budget (Config.MaxInFlightRecords and
// MaxInFlightBytes; a connector's buffer.max.records and buffer.max.bytes).
//
// The budget bounds the records read but not yet acknowledged, so it sets
// a task's live heap, and with the worker's GOGC=400 the heap the
// collector lets grow is a multiple of it. 16,384 records / 64 MiB made a
// file → filter + template → drop pipeline of 1 KB events peak at
// 70–92 MiB RSS; the defaults below keep it near an idle worker's while
// the pipeline still moves as fast (docs/benchmarks.md, "Memory per
// connector"). A connector that needs deep buffers (a sink with long
// writes, large transactions) raises them.
const (
	DefaultMaxInFlightRecords = 2048
	DefaultMaxInFlightBytes   = 4 << 20
)
