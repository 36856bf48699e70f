// Package gctune sets the worker process's garbage collector for
// throughput: a higher GOGC than Go's 100, under a soft memory limit so the
// heap still cannot outgrow the machine, unless the operator set GOGC or
// GOMEMLIMIT.
//
// Why: a worker moves records through short-lived buffers while its live
// heap stays small (the in-flight budget), so at GOGC=100 the collector runs
// every few megabytes and its background work competes with the pipeline's
// goroutines for cores. docs/benchmarks.md has the figures.
package gctune
