package kafka

import (
	"errors"
)

// The sink's errors. (Kept apart from errors.go, which the source owns,
// so that the two halves of the package can change independently.)
var (
	// errTopicMissing reports a topic the brokers do not know and did not
	// create (auto.create.topics.enable=false, or topic.auto.create=false).
	errTopicMissing = errors.New("topic does not exist")
	// errTooLarge rejects a record over max.message.bytes before it is
	// sent; the broker's own refusal arrives as kafka-go's
	// MessageSizeTooLarge.
	errTooLarge = errors.New("record too large")
	// errPartition rejects a record whose manual partition is not a
	// partition of its topic.
	errPartition = errors.New("invalid partition")
)
