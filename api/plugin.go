package api

import (
	"context"
	"log/slog"
)

// Source reads records from an external system.
type Source interface {
	// Open connects to the system and positions the source after the
	// committed positions in its TaskConfig. It must not block past ctx.
	Open(ctx context.Context) error
	// Read blocks until at least one record is available and returns a
	// batch of them, or returns ctx's error once ctx is done, or
	// ErrEndOfInput when a finite input is exhausted. The engine owns the
	// returned slice and records; the source must not touch them again.
	Read(ctx context.Context) ([]Record, error)
	// Close releases every resource the source holds. It is called once,
	// even after a failed Read, and must return within ctx.
	Close(ctx context.Context) error
}

// Acker is an optional Source capability. The engine calls Ack when every
// record of partition at or before pos has been durably written by the sink,
// before the position is necessarily committed to the offset store. Sources
// that must confirm receipt upstream (delete a queue message, answer a
// webhook, advance a consumer group) implement it. Ack must not block long;
// it may run concurrently with Read.
type Acker interface {
	Ack(ctx context.Context, partition string, pos Position) error
}

// CommitListener is an optional Source capability: a source that
// publishes its progress to its system (a Kafka consumer group's offsets,
// a checkpoint service) learns here which positions the engine committed
// to the offset store, so it publishes only what a restart resumes from.
//
// After every offset commit that stored positions, the engine calls
// Committed with them: for each partition that moved, its new committed
// position (the latest of the partition's acknowledged records, as Ack
// reports it). The map is the source's to keep. Calls come from the
// goroutine that commits, one at a time, concurrently with Read; the
// last one comes before Close (the engine commits, then closes), except
// after a hard stop. Committed must not block or do I/O: record the
// positions and publish them from Read or Close.
type CommitListener interface {
	Committed(positions map[string]Position)
}

// LagReporter is an optional Source capability: a source that knows how
// far behind its input it is reports it per partition, as a number of
// records its system holds after the source's read position (for Kafka,
// the high watermark minus the next offset to read). The engine reads it
// for metrics and status, from any goroutine, concurrently with every
// other method and also before Open and after Close; Lag must not block or
// do I/O, and returns a map the caller may keep (nil when nothing is
// known yet).
type LagReporter interface {
	Lag() map[string]int64
}

// Sink writes records to an external system.
type Sink interface {
	// Open connects to the system.
	Open(ctx context.Context) error
	// Write writes a batch. When it returns nil every record is written;
	// unless the sink is also a Flusher, the engine then treats them as
	// durable and acknowledges them. To reject only some records, return a
	// *RecordErrors naming them: the others count as written.
	Write(ctx context.Context, records []Record) error
	// Close releases every resource the sink holds.
	Close(ctx context.Context) error
}

// Flusher is an optional Sink capability for sinks that buffer: records
// written by Write are acknowledged only after a later Flush returns nil.
// The engine flushes before every offset commit and on stop.
type Flusher interface {
	Flush(ctx context.Context) error
}

// PositionStore is an optional Sink capability: a sink that stores source
// positions atomically with its writes (in the same transaction as the
// rows, say), so the positions it holds are never behind what it wrote.
//
// The engine opens such a sink before it builds the source, calls
// Positions after Open succeeded and before any Write, and
// merges the answer into TaskConfig.Committed: for a partition present in
// both, the sink's position wins, since the offset store may lag the sink
// by up to a commit interval; a partition only in the offset store keeps
// the store's. The partitions the sink moved are then committed to the
// offset store, so it reports what the source resumes from. A sink that stores
// nothing (its exactly-once option off) returns an empty map. Errors are
// classified like Open's: retryable ones are retried, fatal ones fail the
// task.
//
// An operator's offset reset or alter changes only the offset store: as
// long as the sink holds a position for a partition, that position wins
// at the next start. To move a source back, clear the sink's stored
// positions too (the sink documents where it keeps them).
type PositionStore interface {
	Positions(ctx context.Context) (map[string]Position, error)
}

// PositionSaver is an optional capability of a PositionStore: a sink that
// can also store positions outside its writes. Without it, the positions
// a sink holds move only when records reach it, so after records that the
// transform chain filtered out or that went to the dead-letter sink, the
// sink's positions lag the offset store's, and the next start (where the
// sink's win) replays what was already decided — or asks the source for
// input its server may have purged meanwhile, such as a rotated binlog.
//
// After every offset commit made between writes, the engine calls
// SavePositions, from the goroutine that calls Write, with the positions
// it just committed. Every record up to each of them has been written by
// the sink (and flushed) or will never be, so storing them never moves a
// partition back. A failure is logged and the positions are offered again
// at the next commit; it does not fail the task.
type PositionSaver interface {
	PositionStore
	SavePositions(ctx context.Context, positions map[string]Position) error
}

// Transform rewrites or drops one record. It must be safe to call from one
// goroutine at a time and should not allocate on the common path.
type Transform interface {
	// Apply transforms r in place and reports whether to keep it.
	Apply(r *Record) (keep bool, err error)
}

// Closer is an optional capability of transforms that hold resources.
type Closer interface {
	Close() error
}

// TaskConfig is what the engine hands a plugin's constructor.
type TaskConfig struct {
	// Connector is the connector's name; Task the task's index in
	// [0, Tasks).
	Connector string
	Task      int
	Tasks     int
	// Config holds the plugin's parsed and validated settings, secrets
	// resolved.
	Config Config
	// Committed holds, for a source, the last committed position of every
	// partition of the whole connector, not only of the partitions this
	// task will own: tasks may be re-planned (a partition moves to another
	// task) and a source decides ownership itself, so each task gets the
	// connector's full map and reads the entries it owns. Where the sink is
	// a PositionStore its answer overrides the offset store's entry for
	// each partition it names. A sink gets the offset store's map as it
	// was before that override. Empty on first start.
	Committed map[string]Position
	// Logger is scoped to the task; plugins log through it.
	Logger *slog.Logger
	// OnWarning is set by the engine to receive what Warn reports; plugins
	// call Warn, not this.
	OnWarning func(msg string)
}

// Warn reports a condition an operator must see while the task keeps
// running, such as a DDL statement a CDC source could not read: it is
// logged at warning level with args (slog key-value pairs) and the engine
// shows msg in the task's status (its trace, prefixed "warning: ") until
// the task's state next changes. Use it for what needs attention, not for
// transient trouble the task retries through.
func (c TaskConfig) Warn(msg string, args ...any) {
	if c.Logger != nil {
		c.Logger.Warn(msg, args...)
	}
	if c.OnWarning != nil {
		c.OnWarning(msg)
	}
}

// SourcePlugin describes a source plugin. cmd registers one per package.
type SourcePlugin struct {
	Name    string
	Summary string
	Spec    Spec
	New     func(TaskConfig) (Source, error)
	// Plan, when set, splits a connector into per-task settings (for example
	// one task per table or shard). It returns one map per task, at most
	// maxTasks, whose entries override the connector's settings for that
	// task. When nil every task gets the connector's settings unchanged and
	// tells itself apart by TaskConfig.Task.
	Plan func(c Config, maxTasks int) ([]map[string]string, error)
	// Validate, when set, checks rules that involve several fields, after
	// Spec.Parse accepted each one (for example "a or a.form, not both").
	// Return a *ValidationError or FieldError naming fields relative to the
	// plugin's prefix; any other error is reported on the plugin's key.
	Validate func(c Config) error
}

// SinkPlugin describes a sink plugin.
type SinkPlugin struct {
	Name    string
	Summary string
	Spec    Spec
	New     func(TaskConfig) (Sink, error)
	// Validate, when set, checks rules that involve several fields, after
	// Spec.Parse accepted each one (for example "a or a.form, not both").
	// Return a *ValidationError or FieldError naming fields relative to the
	// plugin's prefix; any other error is reported on the plugin's key.
	Validate func(c Config) error
}

// TransformPlugin describes a transform plugin.
type TransformPlugin struct {
	Name    string
	Summary string
	Spec    Spec
	New     func(c Config) (Transform, error)
	// Validate, when set, checks rules that involve several fields, after
	// Spec.Parse accepted each one (for example "a or a.form, not both").
	// Return a *ValidationError or FieldError naming fields relative to the
	// plugin's prefix; any other error is reported on the plugin's key.
	Validate func(c Config) error
}

// Predicate decides whether a transform applies to a record (Kafka
// Connect's predicates): a transform whose predicate is false, or true with
// negate, passes the record through unchanged. Like Transform, it is called
// from one goroutine at a time and should not allocate.
type Predicate interface {
	Test(r *Record) (bool, error)
}

// PredicatePlugin describes a predicate plugin.
type PredicatePlugin struct {
	Name    string
	Summary string
	Spec    Spec
	New     func(c Config) (Predicate, error)
	// Validate, when set, checks rules that involve several fields, after
	// Spec.Parse accepted each one (for example "a or a.form, not both").
	// Return a *ValidationError or FieldError naming fields relative to the
	// plugin's prefix; any other error is reported on the plugin's key.
	Validate func(c Config) error
}
