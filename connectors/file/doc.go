// Package file reads and writes JSON Lines files of CloudEvents: a sink
// that appends one structured-mode event per line, and a source that reads
// such files (or plain JSON objects, one per line).
//
// # Sink
//
// The sink appends to path (parent directories are created) through a
// buffer. It is an api.Flusher: Flush writes the buffer and fsyncs the
// file, so the engine acknowledges records only once they are on disk. A
// record whose event cannot be encoded is rejected alone with
// api.RecordErrors. When the file does not end with a newline on Open (a
// crash tore the last line), the sink first writes one, so the torn line
// stays a single malformed line instead of corrupting the next record.
//
//	field         type    default   description
//	path          string  required  File to append to; parent directories are created.
//	buffer.bytes  int     1048576   Buffered bytes that trigger a write to the file (durability still waits for flush).
//
// # Source
//
// The source reads path line by line. Its single partition is the path and
// a record's position is the byte offset just after its line, as decimal
// text, so a restart resumes exactly after the last committed line. A line
// holding an object with a "specversion" attribute is decoded as a
// structured-mode CloudEvent; any other JSON object becomes the data of an
// event with type ferry.file.v1, source file://<path> and id
// <path>:<byte offset of the line>. Blank lines are skipped.
//
// A malformed line stops the source with an api.Fatal error naming the line
// number and byte offset, unless skip.invalid is set: then it is logged and
// counted. Lines longer than max.line.bytes are malformed. Without follow,
// Read returns api.ErrEndOfInput at the end of the file (a last line
// without a newline still counts); with follow, it waits for more like
// tail -f, polling every poll.interval, and fails if the file shrinks. A
// missing file is a fatal error without follow; with follow Read waits for
// it to appear. A connector reads its file with one task (its Plan returns
// one), since tasks would read the same lines.
//
//	field           type      default   description
//	path            string    required  File to read; also the partition name.
//	follow          boolean   false     At end of file wait for more lines (like tail -f) instead of ending the input.
//	poll.interval   duration  200ms     How often a following source looks for new data.
//	skip.invalid    boolean   false     Log and skip malformed lines instead of failing the task.
//	max.line.bytes  int       4194304   Longest accepted line in bytes; longer lines are malformed.
//	batch.size      int       1024      Most records returned by one Read.
package file
