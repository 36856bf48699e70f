// Package mns is the "mns" sink: it sends each record as one message to an
// Alibaba Cloud MNS (Message Service) queue with BatchSendMessage, or
// publishes it to an MNS topic with PublishMessage (topic instead of queue;
// one call a message, MNS having no batch publish), through the official
// SDK github.com/aliyun/aliyun-mns-go-sdk.
//
// # Messages
//
// The queue (or topic), delay.seconds and priority are sink parameters of package
// transform/template: constants or taken from each event. The body is the
// CloudEvent as structured JSON (body=structured, the default), the
// event's data (body=data), or rendered from the event with body.form,
// body.value and body.template (EventBridge's Body). With base64=true (the
// default, as EventBridge's IsBase64Encode) the body is sent base64-encoded;
// with false it is sent as XML text, and a body XML cannot carry (bytes that
// are not UTF-8, control characters) is rejected instead of being garbled.
//
// # Delivery
//
// Write groups a batch by queue and, within a queue, by record key into at
// most send.parallelism groups sent at once; a group goes in calls of at
// most batch.size (≤16) messages and batch.bytes (≤64 KiB) of bodies, one
// after another, so one key's messages keep their order. Write returns when
// every call has: a nil error means MNS stored every message.
//
// A message MNS refuses for its content (InvalidArgument, such as a body
// over the queue's MaximumMessageSize; MalformedXML) is rejected alone with
// api.RecordErrors; so is a record whose queue, priority or delay renders
// to a value MNS would refuse, or whose body exceeds 64 KiB. When some
// messages of a batch fail with a transient code (InternalError,
// QpsLimitExceeded) or a call fails as a whole (unreachable endpoint,
// timeout), Write returns a retryable error; the engine writes the same
// batch again and a kit.Resume skips what MNS already accepted, so only
// the failed messages are sent again. Wrong credentials, a missing queue
// (a constant one; one named by an event rejects that event) and a clock
// MNS refuses are fatal. See docs/mns-sink.md.
//
// # Transport
//
// The SDK's requests go over net/http (transport.go) rather than
// fasthttp's connections, so that a call honours the Write's ctx,
// connect.address can route requests elsewhere, and Close leaves no
// connection goroutine behind.
package mns
