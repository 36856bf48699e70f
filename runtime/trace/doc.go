// Package trace records what became of individual events in a worker's
// tasks: a bounded, sampled history per connector that answers "what
// happened to event X" (read when, kept, changed or dropped by which
// transform, written after how many retries, dead-lettered with what
// error), and a live tap that shows events as they pass.
//
// A worker holds one Recorder and hands it to every task
// (runtime.Config.Tracer). Each task takes a Task handle from it and, for
// every event it reads, asks Sample: the decision is a hash of the event
// id against the sample rate, so it is the same in every task, worker and
// run, and tests can choose ids that are (or are not) sampled. A sampled
// event gets an Active trace that the runtime's stages fill in (Transform,
// Sink, Fail, DeadLetter) and finish once (Drop, Deliver, or a failure).
// Every event that fails is traced whether sampled or not: the runtime
// starts an unsampled Active at the failure, which then holds only the
// failing step.
//
// Finished traces go to the connector's ring (Limits.PerConnector, the
// oldest evicted first); the worker-wide bounds (Limits.MaxTraces and
// Limits.MaxBytes, each trace's size estimated and its strings capped)
// evict from the connector holding more than its share. Traces returns a
// connector's traces newest first through a Filter.
//
// Tap subscribes to every event a connector's tasks finish while the
// subscription lasts, each with the record before and after every stage.
// Tap events are sent without blocking: a subscriber whose channel is full
// loses events (TapEvent.Missed counts them), and a task builds no tap
// event while every subscriber's channel is full, so a slow reader never
// slows the pipeline.
//
// Concurrency: a Recorder's methods may be called from any goroutine. A
// Task handle is shared by a task's goroutines. An Active belongs to one
// goroutine at a time: the runtime hands it on with the record, through
// the channels that hand records on.
package trace
