package runtime

import "errors"

var (
	// ErrStopTimeout means a soft stop did not finish within StopTimeout
	// and the task was abandoned; positions after the last commit will be
	// read again.
	ErrStopTimeout = errors.New("task did not stop in time; abandoned")
	// ErrRetriesExhausted means an operation kept failing for longer than
	// Retry.Timeout.
	ErrRetriesExhausted = errors.New("retries exhausted")
)
