// Package kafka is Ferry's Kafka connector: a source that reads topics as
// CloudEvents and a sink that writes them, on github.com/segmentio/kafka-go.
//
// Both speak the CloudEvents Kafka protocol binding through package kit
// (binary mode: attributes as ce_* headers; structured mode:
// application/cloudevents+json; plain records become events whose data is
// the value), share one connection spec (brokers, SASL PLAIN/SCRAM, TLS)
// and one error triage: authentication, authorization and configuration
// errors fail the task with what to fix, a record the broker refuses for
// itself (too large, invalid) is rejected alone (dead-letter sink or task
// failure, per errors.tolerance), and the rest is retried with backoff.
//
// docs/kafka-source.md and docs/kafka-sink.md are the user guides.
package kafka
