// Package predicate provides Kafka Connect-style predicates as Ferry
// predicate plugins, and Wrap, which makes a transform conditional on one.
//
// A predicate tests a record; a transform with a predicate applies only to
// the records the predicate accepts (or, with negate, rejects) and passes
// every other record through unchanged. The plugins, with their Kafka
// equivalents:
//
//	pattern          an EventBridge event pattern (transform/pattern)
//	has-extension    HasHeaderKey: the event has the named extension
//	subject-matches  TopicNameMatches: a regex matches the whole subject
//	type-matches     a regex matches the whole type
//	is-tombstone     RecordIsTombstone: no data, or JSON null data
//
// In a connector, as in Kafka Connect: predicates=p, predicates.p.type=…
// with the plugin's settings under predicates.p., and on a transform
// transforms.x.predicate=p and optionally transforms.x.negate=true; the
// worker builds the transform and the predicate and chains Wrap's result.
//
// Predicates are immutable after New and safe for concurrent use.
// Wrap's result keeps the wrapped transform's rule: one goroutine at a
// time.
package predicate
