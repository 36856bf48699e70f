// Package mns is an in-memory, protocol-faithful emulator of Alibaba Cloud
// Message Service (MNS, now "Simple Message Queue") queues and topics, so that Ferry's
// MNS connector and its tests can run without the cloud.
//
// It speaks the MNS HTTP/XML API version 2015-06-06 as the official Go SDK
// (github.com/aliyun/aliyun-mns-go-sdk) sends it:
//
//   - queues: CreateQueue (PUT /queues/{name}), SetQueueAttributes
//     (PUT /queues/{name}?metaoverride=true), GetQueueAttributes
//     (GET /queues/{name}), DeleteQueue (DELETE /queues/{name}) and
//     ListQueue (GET /queues with the x-mns-marker, x-mns-ret-number,
//     x-mns-prefix and x-mns-with-meta headers);
//   - messages: SendMessage and BatchSendMessage (POST
//     /queues/{name}/messages with a <Message> or <Messages> body),
//     ReceiveMessage and BatchReceiveMessage (GET with numOfMessages and
//     waitseconds long polling), PeekMessage (peekonly=true), DeleteMessage
//     and BatchDeleteMessage (DELETE with ReceiptHandle or a
//     <ReceiptHandles> body) and ChangeMessageVisibility (PUT with
//     ReceiptHandle and VisibilityTimeout);
//   - topics: CreateTopic and SetTopicAttributes (PUT /topics/{name}),
//     GetTopicAttributes, DeleteTopic, ListTopic (GET /topics), Subscribe,
//     GetSubscriptionAttributes and Unsubscribe (/topics/{name}/
//     subscriptions/{sub}) and PublishMessage (POST /topics/{name}/messages
//     with <Message><MessageBody>, optional <MessageTag>), answered 201 with
//     MessageId and MessageBodyMD5. A published message goes at once to
//     every subscription whose FilterTag is empty or equals its tag; only
//     queue endpoints of the account (acs:mns:<region>:<account>:queues/<q>)
//     are delivered to, as the body alone (SIMPLIFIED) or wrapped in MNS's
//     <Notification> (XML, the default) or its JSON form. A delivery whose
//     queue is gone or too small is dropped and counted (Dropped), where MNS
//     would retry it by NotifyStrategy.
//
// Every request must carry "Authorization: MNS AccessKeyId:Signature", an
// HMAC-SHA1 over the verb, Content-MD5, Content-Type, Date, the sorted
// x-mns-* headers and the request URI, made with the configured key pair.
// Failures answer with MNS's XML <Error> body and status: 403
// SignatureDoesNotMatch for a wrong secret, 403 InvalidAccessKeyId for an
// unknown key id, 404 MessageNotExist for an empty queue, and so on, so the
// SDK returns the same typed errors it returns against the cloud.
//
// Message semantics follow MNS: a received message is inactive until its
// visibility timeout ends, then active again with DequeueCount incremented;
// each receive (and each ChangeMessageVisibility) issues a new receipt
// handle and invalidates the previous one; smaller Priority values are
// delivered first, FIFO within a priority; DelaySeconds holds a message back;
// messages older than the queue's MessageRetentionPeriod are dropped.
// MessageBody is stored exactly as sent (the SDK does not base64-encode it;
// callers that want base64 encode it themselves) and MessageBodyMD5 is the
// upper-case hex MD5 of those bytes.
//
// Usage: New validates a Config; Run(ctx) serves until ctx ends. Tests embed
// the emulator with Start and Close (or mount Handler on their own server)
// and reach it through Endpoint. SDK v1.0.x insists on an endpoint shaped
// like "http://account.mns.region.aliyuncs.com", so tests give the SDK
// SDKEndpoint and route its connections here with
// client.SetTransport(mns.Redirect(srv.Addr())).
//
// The SDK's AliMNSQueue is not safe for concurrent use (its QPS monitor
// races under -race); give each goroutine its own NewMNSQueue handle.
//
// Where MNS's documentation is silent the emulator chooses, and tests pin
// the choice: Priority 0 (what the SDK sends when the caller sets none)
// means the default 8; a message's explicit DelaySeconds, even 0, overrides
// the queue's; a batch send with a failed entry answers 500 and a batch
// delete with a failed handle answers 404, each with per-entry results;
// a handle of a deleted message is MessageNotExist, a superseded or expired
// one ReceiptHandleError; DeleteQueue of a missing queue succeeds.
//
// Concurrency: all queue state is owned by one mutex, Server.mu; long-polling
// receives wait outside it on a per-queue notification channel. The clock is
// injectable (Config.Now) and the queue logic takes the time as an argument,
// so visibility timeouts can be tested without sleeping.
//
// Tests that need a batch send to fail in part with a transient code (which
// the emulator never does by itself) set Config.SendFault, which names the
// entries to fail and the error code each reports.
//
// Not emulated: HTTP, mail and SMS subscription endpoints, retried
// deliveries, ListSubscriptionByTopic, queue-level logging, QPS limits and
// the QueueDeletedRecently grace period.
package mns
