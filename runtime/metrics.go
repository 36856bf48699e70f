package runtime

import "time"

// Snapshot is a point-in-time copy of a task's counters, named after Kafka
// Connect's source and sink task metrics.
type Snapshot struct {
	SourceRecordPollTotal  int64 // records returned by Source.Read
	SourceRecordWriteTotal int64 // records that reached the sink stage (after transforms)
	RecordFilteredTotal    int64 // dropped by a transform
	SinkRecordSendTotal    int64 // records passed to Sink.Write
	SinkRecordAckTotal     int64 // records acknowledged (written and flushed)
	RecordErrorTotal       int64 // records that failed (transform, sink)
	DeadLetterTotal        int64 // records written to the dead-letter sink
	RetryTotal             int64 // retried plugin calls
	BatchTotal             int64 // Sink.Write calls
	OffsetCommitTotal      int64 // successful commits
	OffsetCommitFailures   int64
	InFlightRecords        int64
	InFlightBytes          int64
	LastCommit             time.Time
	LastRecord             time.Time // last record read from the source
	PutBatchNanosTotal     int64     // total time in Sink.Write
	PollBatchNanosTotal    int64     // total time in Source.Read
	// Lag is the source's lag in records per partition when it is an
	// api.LagReporter (nil otherwise, or before it knows).
	Lag map[string]int64
}
