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
//   - The data is decoded once into Go values with numbers kept as their
//     JSON text (json.Number), so big integers and decimals round-trip
//     exactly, modified and encoded once. Object keys come out sorted;
//     JSON objects are unordered, and only value-to-key, whose output
//     order is configured, keeps an order.
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
