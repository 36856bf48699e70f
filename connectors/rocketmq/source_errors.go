package rocketmq

import "errors"

var (
	// errBadPosition fails a source task handed a stored position it
	// cannot resume from: a partition name that is not
	// <topic>/<broker>/<queue>, or a position that is not an offset.
	errBadPosition = errors.New("invalid stored position")
	// errFilter fails a source whose filter the broker refuses: SQL92 on a
	// broker without enablePropertyFilter, or an expression it cannot
	// parse.
	errFilter = errors.New("the broker refuses the filter")
	// errTopicGone fails a source whose topic the name servers do not know.
	errTopicGone = errors.New("topic does not exist")
	// errPastEnd fails a source whose stored position is beyond the end of
	// its queue (the topic was deleted and created again).
	errPastEnd = errors.New("stored position is past the end of the queue")
)
