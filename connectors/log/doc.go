// Package log is the "log" sink: it prints every event as one
// structured-mode CloudEvents JSON line, for trying pipelines out and
// debugging them.
//
// Lines go to the process's standard output (or standard error), not to
// the task logger, so they can be piped to jq or a file unchanged. Writes
// are unbuffered beyond one batch: each Write ends with one write call, so
// lines of concurrent tasks never interleave mid-line. An event that cannot
// be encoded is rejected alone with api.RecordErrors.
//
//	field   type    default  description
//	stream  string  stdout   Where to print events. One of: stdout, stderr.
//
// [SinkTo] builds the same plugin writing to any io.Writer, for tests and
// embedding.
package log
