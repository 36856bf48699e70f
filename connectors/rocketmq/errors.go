package rocketmq

import "errors"

var (
	// errTopicEmpty rejects a record whose topic renders to nothing.
	errTopicEmpty = errors.New("topic is empty")
	// errTopicInvalid rejects a topic name RocketMQ refuses: longer than
	// 127 characters, characters outside [%|a-zA-Z0-9_-], or the broker's
	// auto-create template topic.
	errTopicInvalid = errors.New("invalid topic name")
	// errTooLarge rejects a message over max.message.bytes, or whose
	// properties exceed the 32767 bytes the broker accepts.
	errTooLarge = errors.New("message too large")
	// errPropertyChar rejects a property (a tag, a key, a CloudEvents
	// attribute in data mode) holding the bytes 0x01 or 0x02, which frame
	// properties on the wire and would corrupt the message.
	errPropertyChar = errors.New("property contains a reserved control character (0x01 or 0x02)")
	// errRejected is a broker's refusal of one message that resending
	// cannot fix (MESSAGE_ILLEGAL).
	errRejected = errors.New("broker rejected the message")
	// errNoNameServer reports that no name server accepted a connection.
	errNoNameServer = errors.New("no name server reachable")
)
