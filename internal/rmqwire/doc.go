// Package rmqwire is Ferry's one client of Apache RocketMQ's remoting
// protocol: the frames, the ACL signature, and the calls Ferry makes
// itself — topic routes and cluster masters from the name server, topic
// creation, queue offsets and pulls from a broker. It exists for what
// rocketmq-client-go cannot do the way Ferry needs it — a pull from an
// explicit offset that ends with ctx, several pulls in flight on one
// connection, a queue's min and max offsets, a consumer group's stored
// offsets, a topic creation whose answer is checked — while sends stay on
// the library's producer. The rocketmq connectors, the RocketMQ state
// store and the tests' rocketmqtest all speak through it.
//
// The calls ([TopicRoute], [Masters], [CreateTopic], [MaxOffset], ...)
// each take a timeout per request and end with ctx; a server's answer
// other than success is a [*RefusedError] with its code, bytes that are
// not the protocol are [ErrFrame]. Pull messages come back in the
// broker's encoding for rocketmq-client-go's primitive.DecodeMessage, so
// this package needs nothing but the standard library.
//
// A frame is an int32 length (of everything after it), an int32 whose low
// 24 bits are the header's length and whose top byte is the header's
// serialisation (0, JSON), the JSON header {code, language, version,
// opaque, flag, remark, extFields}, and the body. A response carries its
// request's opaque and flag bit 0.
//
// [Conn] is one TCP connection. [Conn.Send] writes a request and returns its
// opaque, so a caller can have many requests in flight; [Conn.Receive] reads
// the next response. Send may run concurrently with Receive (one goroutine
// writing, one reading), but not with another Send, and Receive not with
// another Receive. [Conn.Call] is a single round trip bounded by ctx and a
// timeout, for connections used one request at a time, and [Conn.Pull] is
// Call for a [Pull]. Close aborts whatever is in flight.
package rmqwire
