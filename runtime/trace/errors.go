package trace

import "errors"

// ErrTooManyTaps means the worker already serves Limits.MaxTaps live taps;
// the caller retries later.
var ErrTooManyTaps = errors.New("too many live taps on this worker")

var errSampleRate = errors.New("must be a number from 0 (failures only) to 1 (every event)")
