// Package runtime runs one task: it reads batches from a source, passes each
// record through the transform chain, writes the survivors to the sink, and
// commits source positions once the sink has acknowledged every record at or
// before them.
//
// A Task runs a pipeline of goroutines joined by channels of batches: a
// reader (Source.Read, tracking in the ack watermark), a chain stage when
// the connector has transforms (so a busy source and a busy chain use two
// cores; records keep their order), and a writer (Sink.Write, Flush, acks
// and commits). Given Config.NewChain, the reader also runs its own
// instance of the chain over a batch whenever the chain stage is behind. A bounded in-flight budget (records and bytes) spans them
// all, so a slow sink back-pressures the source and memory stays bounded.
//
// Run opens the sink before the source. Given Config.NewSource instead of a
// built Source, it builds the source only then, resuming from the offset
// store's positions overridden by those of a sink that is an
// api.PositionStore, and commits the partitions the sink moved. A sink that
// stores positions in the same transaction as its rows thus never sees a
// record again that it committed, even after a crash between its write and
// the next offset commit. A sink that is also an api.PositionSaver gets the
// positions of every commit made after a successful write, so records it
// never saw (filtered, dead-lettered) do not leave its positions behind.
//
// Lifecycle: New validates; Run blocks until ctx ends, the source reaches
// its end, or a fatal error. Cancelling ctx is a soft stop: reading stops,
// in-flight records are written and flushed, positions are committed and the
// plugins are closed. If the soft stop does not finish within
// Config.StopTimeout, Run returns ErrStopTimeout and abandons the stuck
// plugin call (a hard stop), so one connector never blocks the worker.
//
// Files follow a record's way: task.go holds the Task, New and Run (opening
// and closing the plugins); read.go the reader and the in-flight budget it
// waits on; chain.go the transform chain; window.go the batch window;
// write.go the writer; reject.go the error tolerance (a failed record is
// skipped, dead-lettered or fails the task), deadletter.go the dead-letter
// record's formats; commit.go acknowledgements and offset commits, with the
// ack watermark in watermark.go; tracing.go the stages' hooks into
// Config.Tracer.
//
// Tracing: given Config.Tracer (a trace.Recorder the worker shares among
// its tasks), a task traces the events whose id package trace samples at
// Config.TraceSampleRate, every event that fails, and, while a live tap
// has room, the events it shows. A record's trace travels with its
// bookkeeping from stage to stage; a task without a Tracer pays one nil
// check per batch and stage.
package runtime
