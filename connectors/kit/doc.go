// Package kit holds the pieces every connector that moves CloudEvents
// over a message system shares, so that no connector writes its own copy:
// the CloudEvents protocol bindings (binary mode as ce_* Kafka headers,
// ce-* HTTP headers or CE_* RocketMQ properties; structured mode as
// application/cloudevents+json; detecting the mode of what arrives) and
// the sink option body (structured, binary or data), declared once.
//
// # Bindings
//
// A [Binding] names one protocol's conventions: the prefix of its
// attribute headers and the header that carries datacontenttype. The
// three Ferry speaks are [Kafka], [HTTP] and [RocketMQ].
//
// A source hands a received message to [Binding.Decode] with its content
// type and headers. Decode detects the mode as the bindings prescribe (a
// content type starting with application/cloudevents is structured mode,
// else a specversion header means binary mode, else the message is plain
// data) and returns the event: in structured mode through
// api.Event.UnmarshalJSON, the one-pass decoder every source shares; in
// binary mode from the headers and the body; as plain data with only
// datacontenttype and data set, for the source to fill id, source and
// type from the message's position. A source on a hot path whose client
// gives it the headers as a slice finds the content type and the mode
// itself ([Binding.IsContentType], [Binding.IsSpecVersion], [DetectMode])
// and calls [Binding.DecodeMode], which spares it the allocations of
// ranging over an iterator (the kafka source does).
//
// A sink encodes an event with [Binding.Encode] under the [Body] the user
// chose with the shared [BodyField] (sink.body): the structured JSON with
// the structured content type, the data with every attribute as a header
// (binary), or the data alone.
//
// # Keyed parallel writes
//
// A sink that writes a batch over several connections or queues at once
// splits it with [PartitionByKey] (or its own grouping, such as a queue per
// key hash), so that a key's records stay in one group and in order, and
// writes the groups with [RunParallel], which bounds the parallelism,
// waits for every group before it returns (Write stays synchronous) and
// merges the records each group rejected into one api.RecordErrors in
// batch order. [WriteResult] turns the outcome into Write's error. A sink
// whose writes are not idempotent keeps a [Resume], so the engine's retry
// of a failed batch skips the records that batch already stored.
//
// # Error triage
//
// A connector sorts its system's errors into three [Class]es — transient
// (retry with backoff, honouring the system's retry-after), the record's
// own fault (that record is rejected in api.RecordErrors with [Reject]),
// fatal (the task fails) — with a [Triage], whose Mark applies api's error
// protocol (api.Retryable, api.RetryAfter, api.Fatal).
//
// # Partition ownership
//
// A source whose input is split into partitions (Kafka partitions,
// RocketMQ queues, SLS shards) and that runs as tasks.max tasks splits
// them with one rule, [Owner]: the owner of partition p of stream s is
// (fnv32a(s) + p) mod tasks. It has no Plan (every task gets the same
// config and tells itself apart by api.TaskConfig.Task); each task
// lists the partitions from its own live metadata, keeps those it
// [Owns], and re-reads the metadata on a bounded interval. Because the
// rule looks at nothing but the partition and the task count, tasks
// whose views differ for a moment (one has seen a new partition, one
// not yet) never both read a partition, and a partition added while
// running is read by exactly one task, from its start, with no
// re-planning. Each task resumes a partition it owns from
// api.TaskConfig.Committed, which holds the positions of all the
// connector's partitions, so a change of tasks.max (which restarts every
// task) hands each partition to its new owner at the committed position.
//
// A partitioned source embeds a [Progress]: it implements
// api.CommitListener and api.LagReporter for the engine's goroutines, and
// hands the reader the committed positions to publish to the system's own
// offsets (TakeCommitted, Retry after a failed publish) and takes each
// partition's lag (SetLag, DropLag).
//
// The bindings, PartitionByKey and Owner are pure functions, safe for concurrent
// use; RunParallel starts goroutines that end before it returns. The
// package does no I/O of its own and imports api only.
//
// # Change events
//
// The change-data-capture sources (mysql-cdc and dts) emit one event
// shape, Debezium's envelope, and render row values one way: a source maps
// its column types onto a [ValueKind] and renders each value with
// [AppendText] (or [AppendFloat]), frames the event with [BeginEnvelope]
// and [EndEnvelope], converts text with [TextEncoding], and classifies
// schema statements with [ParseDDL] for the DDL event that [BeginDDLEvent]
// and [EndDDLEvent] frame. So a row reads the same from either source and
// the rds sink's cdc mode applies both.
package kit
