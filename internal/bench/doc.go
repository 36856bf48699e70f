// Package bench holds end-to-end benchmarks of the task runtime with real
// built-in connectors (generator → transforms → drop), the figures in
// docs/benchmarks.md. It has no non-test code beyond this comment.
package bench
