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
//
// The sink's fields (sink.<field>):
//
//	field                                  type       default   description
//	endpoint                               string     required  The account's MNS endpoint, http(s)://<account id>.mns.<region>.aliyuncs.com (also the -internal and -internal-vpc forms).
//	access.key.id                          string     required  AccessKey ID (of a RAM user or of STS credentials).
//	access.key.secret                      string     required  AccessKey secret. Secret.
//	security.token                         string     -         STS security token, with temporary access keys. Secret.
//	connect.address                        string     -         host:port to connect to instead of the endpoint's host (a proxy, a private link, an emulator); requests still name the endpoint, and HTTPS still verifies its name.
//	request.timeout                        duration   10s       Time one request may take.
//	queue[.form|.value|.template]          parameter  -         Destination queue (BatchSendMessage). Exactly one of queue and topic is required. A constant; to take it from the event use queue.form instead.
//	topic[.form|.value|.template]          parameter  -         Destination topic (PublishMessage, one call a message), instead of queue; its subscriptions deliver the message. A constant; to take it from the event use topic.form instead.
//	body[.form|.value|.template]           parameter  -         structured: the CloudEvent as JSON; data: the event's data alone. To render the body from the event instead, set body.form (with body.value, body.template). binary is not offered: queue messages carry no attributes.
//	delay.seconds[.form|.value|.template]  parameter  -         Seconds before the message becomes visible, 0 to 604800; default 0 (the SDK always sends a delay, so the queue's own DelaySeconds does not apply). Queues only. A constant; to take it from the event use delay.seconds.form instead.
//	priority[.form|.value|.template]       parameter  -         Message priority, 1 (first) to 16; default 8. Queues only. A constant; to take it from the event use priority.form instead.
//	tag[.form|.value|.template]            parameter  -         Message tag (MessageTag), at most 16 bytes: a subscription with a FilterTag receives only the messages tagged with it. Topics only. A constant; to take it from the event use tag.form instead.
//	base64                                 boolean    true      Send the body base64-encoded (as EventBridge's IsBase64Encode). With false, a body that XML cannot carry (not UTF-8, control characters) is rejected.
//	batch.size                             int        16        Most messages in one BatchSendMessage call (MNS allows 16). Queues only: a topic takes one message a call.
//	batch.bytes                            int        65536     Most bytes of message bodies in one call (MNS allows 65536). Queues only.
//	send.parallelism                       int        4         Calls in flight at once; the messages of one record key always go one call after another.
package mns
