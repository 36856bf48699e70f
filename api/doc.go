// Package api is the contract between Ferry's engine and its connector
// plugins: the Record that flows through a task, the Source, Sink and
// Transform interfaces, the declarative config Spec every plugin publishes,
// and the errors a plugin returns to steer the engine.
//
// # The shape of a task
//
// A task reads batches from one Source, passes each record through a chain
// of Transforms and writes the survivors to one Sink:
//
//	Source.Read ─► Transform.Apply … ─► Sink.Write ─► (Flusher.Flush) ─► ack
//
// The engine owns every goroutine. Plugin methods are synchronous and honour
// their ctx: they block until they have something to return, and return
// promptly (with ctx.Err() or a wrapped form of it) once ctx is done. A
// plugin starts no goroutine that outlives Close.
//
// # Positions and delivery
//
// Every record carries the Partition it came from and its Position within
// that partition. The engine tracks which records the sink has durably
// written and commits, per partition, only a position whose every earlier
// record is written (an ack watermark). After a restart the engine hands the
// source the last committed position of each partition in [TaskConfig];
// the source resumes after it. Delivery is therefore at-least-once:
// records after the last commit are read again, with the same event ids.
// Sources must make Event.ID a deterministic function of the position so a
// replayed record keeps its id.
//
// A sink that writes positions in the same transaction as its records
// implements [PositionStore]. The engine then opens the sink first and
// starts the source from the sink's positions where it has them, so
// records the sink committed are not read again: exactly once into that
// sink, even after the worker is killed between a write and the next
// offset commit. If it can also store positions outside its writes, it
// implements [PositionSaver], so records it never receives (filtered,
// dead-lettered) do not leave its positions behind.
//
// A source that publishes its progress to its own system (a Kafka
// consumer group) implements [CommitListener] and publishes the positions
// the engine reports committed, never positions ahead of the offset
// store. A source that can tell how far behind its input it is
// implements [LagReporter]; the engine exports the figure as a metric.
// A sink that learns where each record landed (a queue and offset)
// implements [PositionMapper], so a consumer of a replicated system can
// move to the copy ([TranslateOffsets]).
//
// A Position is opaque to the engine: bytes the source encodes and decodes.
// Positions within one partition must be produced in increasing order by
// Read; the engine never compares them, it only orders them by arrival.
//
// # Concurrency contract
//
// The engine calls a plugin's methods from one goroutine at a time, never
// concurrently, except for [Acker.Ack] and [CommitListener.Committed],
// which may run concurrently with Read, and [LagReporter.Lag] and
// [PositionMapper.PositionMap], which may run at any time.
// Close is called exactly once, after Open returned nil, even if ctx was
// cancelled; no other method is called after Close.
//
// # Events as JSON
//
// [Event.AppendJSON] writes an event in the CloudEvents JSON format
// (structured mode); [Event.UnmarshalJSON] reads one in a single pass
// with two allocations, and is the decoder every source that receives
// structured-mode events uses (through connectors/kit's protocol
// bindings). An object without a specversion member fails with
// [ErrNoSpecVersion], so a source can take it as plain data instead.
// [ValidJSON], [AppendJSONEscaped] and [AppendJSONUnescaped] are the
// fast JSON helpers the engine and plugins share. AppendJSON validates
// JSON data before writing it inline, unless the source that rendered the
// data called [Event.MarkDataJSON]: a mark that holds only while Data is
// that same slice, so a transform that replaces the data voids it. A
// source marks only JSON it wrote itself (a CDC change envelope), never
// bytes it received. [ParseTime] reads an event's time as EventBridge
// does (RFC 3339 and the forms EventBridge emits).
//
// # Errors
//
// Return errors wrapped with [Retryable] for transient faults (the engine
// retries with exponential backoff and jitter), with [Fatal] for faults that
// retrying cannot fix (the task fails, or the record goes to the dead-letter
// sink). Unclassified errors are treated as retryable for I/O methods (Open,
// Read, Write, Flush) up to the configured retry budget. A Source returns
// [ErrEndOfInput] when a finite input is exhausted.
package api
