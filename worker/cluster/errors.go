package cluster

import "errors"

var (
	// ErrInvalidInput: Assign was given an empty worker id, an empty
	// connector name or a negative task index.
	ErrInvalidInput = errors.New("invalid assignment input")
	// ErrInvalidConfig wraps every problem MembershipConfig.Validate finds.
	ErrInvalidConfig = errors.New("invalid membership config")
	// ErrClosed: the membership was closed or has left; create a new one
	// to join again.
	ErrClosed = errors.New("membership closed")
	// ErrRunning: Run was called twice.
	ErrRunning = errors.New("membership already running")
)
