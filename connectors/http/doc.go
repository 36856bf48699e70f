// Package http is the "http" source: an HTTP endpoint that turns the
// requests it receives into records, answering each request only once the
// engine has durably written its events. It also holds the "http" sink
// ([Sink], sink*.go), which sends events as HTTP requests the way
// EventBridge API destinations do; its settings, authentication, response
// classes, ordering and batching are documented on Sink and in
// docs/http-sink.md. The rest of this text is about the source.
//
// # Requests
//
// The endpoint accepts the CloudEvents HTTP binding in its three modes and
// plain JSON, read with the binding Ferry's connectors share (package
// connectors/kit). A Content-Type starting with application/cloudevents
// selects structured or batched mode whatever the headers; otherwise a
// ce-specversion header selects binary mode:
//
//   - binary mode: ce-* headers carry the attributes (values
//     percent-decoded), the body is the data and Content-Type its type;
//   - structured mode: Content-Type application/cloudevents+json, one event
//     (decoded by api.Event.UnmarshalJSON in one pass; other event
//     formats, such as +avro, get 415);
//   - batched mode: Content-Type application/cloudevents-batch+json, a JSON
//     array of events;
//   - plain JSON (application/json, any +json type, or no Content-Type):
//     the body becomes the data of one event of type ferry.http.v1, source
//     /ferry/http/<connector>, id <connector>-<task>-<position> and time
//     the moment it was received.
//
// Events sent as CloudEvents keep their own ids, so a client retrying a
// request produces duplicates a consumer can drop.
//
// # Answers and delivery
//
// Every event gets the next position of a per-task sequence in partition
// "http". The handler waits until the engine acknowledges (api.Acker) the
// request's last position and then answers 200 with {"accepted":N}.
// Because that happens when the sink has written the events, a client that
// got 200 will never lose them; one that got anything else should retry
// (at-least-once). The answers are
//
//	200  accepted and durably written
//	400  malformed body or event            403  address or referer not allowed
//	404  other path                         405  method not allowed
//	413  body over max.body.bytes           415  unsupported Content-Type
//	429  queue full (Retry-After: 1)        503  not acknowledged within
//	                                             response.timeout, or stopping
//
// and every error body is JSON {"error_code":<status>,"message":"…"}.
//
// The sequence starts, on Open, at the larger of the committed position + 1
// and the current Unix time in microseconds. The engine acknowledges before
// it commits, so a crash between the two would otherwise hand an
// acknowledged event's position, and with it its id, to a new event; the
// clock keeps positions unique across restarts as long as a task averages
// under a million events a second and the clock does not step back.
//
// # Security
//
// allowed.cidrs limits the client addresses (the TCP peer; forwarding
// headers are not trusted), allowed.referers limits the Referer header's
// host to the listed domains and their subdomains (a request without one is
// refused when the list is set) and allowed.methods the methods. An empty
// list allows everything. A refused request gets 403 and delivers nothing.
//
// # Configuration
//
//	field             type      default   description
//	listen            string    required  host:port to listen on; an empty host binds 127.0.0.1, 0.0.0.0 binds every interface.
//	path              string    /         The one URL path served; others get 404.
//	allowed.methods   list      POST      Accepted HTTP methods; others get 405.
//	allowed.cidrs     list      -         Client networks (CIDR or address) allowed to send; empty allows any. Others get 403.
//	allowed.referers  list      -         Domains whose pages may send (Referer host or a subdomain); empty allows any. Others get 403.
//	max.body.bytes    int       4194304   Largest accepted request body; larger ones get 413.
//	response.timeout  duration  30s       Longest a request waits for its events to be written before it gets 503 and should be retried.
//	queue.size        int       1024      Events received but not yet read by the task; beyond it requests get 429.
//	batch.size        int       1024      Most records returned by one Read.
//
// # Goroutines
//
// Open starts a net/http server on its own goroutine, which starts one per
// connection, as net/http does. Close refuses new requests, answers waiting
// ones with 503, shuts the server down (forcibly once its ctx is done) and
// waits for the server goroutine and every handler to return. A connector
// runs one task (its Plan returns one), since tasks would compete for the
// same address. The source returned by New has an Addr() string method
// giving the bound address, for listen ports of 0.
package http
