package rmqwire

import (
	"errors"
	"fmt"
)

var (
	// ErrFrame reports bytes that are not a remoting frame, or an answer
	// whose body or fields cannot be what they claim: the connection
	// cannot be used any more.
	ErrFrame = errors.New("rocketmq: bad remoting frame")

	// ErrTopicNotExist is the name server's answer for a topic it has no
	// route of.
	ErrTopicNotExist = errors.New("topic does not exist")
)

// RefusedError is an answer other than success to one of this package's
// calls: the server's response code and remark. Callers that act on the
// code (no permission, an unknown consumer group) read it; others only
// print it.
type RefusedError struct {
	Code   int
	Remark string
}

func (e *RefusedError) Error() string { return fmt.Sprintf("code %d: %s", e.Code, e.Remark) }

// refused is resp's code and remark as an error.
func refused(resp *Command) error { return &RefusedError{Code: resp.Code, Remark: resp.Remark} }
