// Package layout enforces docs/layout.md: its test parses the table of
// allowed import arrows and checks every non-test Go file of the module
// against it, so the documented architecture and the code cannot drift.
package layout
