// Package gctune sets the worker process's garbage collector: a higher
// GOGC than Go's 100, for throughput, under a soft memory limit that
// follows the live heap, for memory, unless the operator set GOGC or
// GOMEMLIMIT.
//
// Why: a worker moves records through short-lived buffers while its live
// heap stays small (the in-flight budget), so at GOGC=100 the collector runs
// every few megabytes and its background work competes with the pipeline's
// goroutines for cores. GOGC=400 alone, though, lets garbage grow to five
// times the live heap, and the heap's peaks set the process's peak RSS.
// The adaptive limit (AdaptiveLimit, set after every collection by a
// finalizer chain, no goroutine of ours) holds a small worker at
// DefaultFloor and lets a large live heap grow to about twice its size,
// never past DefaultLimitShare of the memory available. Plan is the pure
// decision, Apply sets it. docs/benchmarks.md has the figures.
package gctune
