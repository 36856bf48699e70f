// Package apitest is the conformance kit every Ferry connector runs in its
// tests: it drives a plugin through the contract of package api the way the
// engine does and fails the test where the plugin breaks it.
//
// A source test calls [RunSource] with a [SourceCase]; a sink test calls
// [RunSink] with a [SinkCase]:
//
//	func TestConformance(t *testing.T) {
//		apitest.RunSource(t, apitest.SourceCase{
//			Plugin:     generator.Source,
//			Config:     map[string]string{"count": "100", "batch.size": "7"},
//			Expect:     100,
//			EndOfInput: true,
//		})
//	}
//
// # What is checked
//
// For a source: the Spec accepts the given config; New, Open and Close work,
// and Close returns even when its ctx is already cancelled; Read returns
// within a second of its ctx being cancelled; every record has an id, a
// source, a type, a human-readable position and encodes as a CloudEvent;
// event ids are unique; a source reopened with the last committed position
// of each partition continues with the record after it, with the same event
// ids as before (no gap, no repeat); a finite source ends with
// api.ErrEndOfInput. When the source is an [api.Acker] the kit acknowledges
// every record right after reading it, as an engine with an instant sink
// would. For a source that splits its partitions over tasks
// ([SourceCase.Tasks] above 1) the kit also opens that many tasks side by
// side and checks that every partition one task reads is read by exactly
// one of them: none twice, none left out.
//
// For a sink: the Spec accepts the config; New, Open and Close work, also
// with a cancelled ctx; empty batches are accepted; records written (and
// flushed, for a [api.Flusher]) before a Close and after a reopen can all be
// read back (at-least-once across a restart). For a sink that declares
// keyed parallel writes ([SinkCase.KeyedOrder]), interleaved records of
// eight keys ([KeyedRecords]) written in several batches are held, key by
// key, in the order they were written.
//
// Both kits verify with go.uber.org/goleak that no goroutine started during
// the case outlives Close. The check sees every goroutine of the test
// binary, so call RunSource and RunSink from a test that does not call
// t.Parallel: Go runs parallel tests only after the sequential ones, so
// nothing else runs beside the kit.
package apitest
