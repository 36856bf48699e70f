// Package smt provides Kafka Connect's single message transforms (SMTs)
// and Debezium's unwrap as Ferry transform plugins, adapted to CloudEvents
// records.
//
// The mapping from Kafka's record model: Kafka's value is the event's data
// (JSON), its headers are CloudEvents extension attributes, its key is
// Record.Key and its topic is the event's subject, which sinks use as the
// destination by default (see RegexRouter).
//
// Each plugin is a var of type api.TransformPlugin (InsertField, Cast, …);
// Plugins lists them all. A transform instance is called from one
// goroutine at a time, as api.Transform requires, and reuses buffers
// between calls.
//
// Data handling, shared by every SMT that reads the data:
//
//   - The data is validated once and decoded lazily: only the objects on
//     the path to the fields an SMT touches are decoded, and every other
//     value is copied to the output byte for byte (so numbers of any size
//     or precision, and strings with any escaping, survive unchanged).
//     Decoded numbers keep their JSON text (json.Number), never passing
//     through float64. Objects keep their keys' order; a repeated key
//     keeps its last value, as encoding/json does. The result is encoded
//     once.
//   - Absent data and JSON null (a tombstone) pass through unchanged,
//     except that hoist-field wraps them, as Kafka does, and unwrap
//     applies its tombstone rule.
//   - Field paths use dots for nested objects ("buyer.address.city"). A
//     key that itself contains the dots, as flatten produces, is matched
//     whole first. insert-field and replace-field work on top-level names,
//     as in Kafka.
//   - A record the SMT cannot handle (data that is not JSON, a data
//     object expected and something else found, a required field missing,
//     a value that does not convert) fails with api.Fatal naming the SMT
//     and the field; the connector's errors.tolerance decides what
//     happens to it. Settings that contradict each other are rejected by
//     New with an *api.ValidationError naming the field.
//
// Predicates (Kafka's transforms.x.predicate) live in transform/predicate.
package smt
