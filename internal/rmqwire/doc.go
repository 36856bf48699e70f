// Package rmqwire is a small client of Apache RocketMQ's remoting protocol:
// the frames, the ACL signature, and the name server's topic routes. It
// exists for the calls rocketmq-client-go cannot make the way Ferry needs
// them — a pull from an explicit offset that ends with ctx, several pulls
// in flight on one connection, a queue's min and max offsets, a consumer
// group's stored offsets — while sends stay on the library's producer.
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
// timeout, for connections used one request at a time. Close aborts
// whatever is in flight.
package rmqwire
