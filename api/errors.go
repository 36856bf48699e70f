package api

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrEndOfInput is returned by Source.Read when a finite input is exhausted.
// The engine drains what is in flight, commits and marks the task finished.
var ErrEndOfInput = errors.New("end of input")

// ErrNoSpecVersion is returned by Event.UnmarshalJSON for a JSON object
// without a specversion member: not a structured-mode CloudEvent, so a
// source may take the object as plain data instead.
var ErrNoSpecVersion = errors.New("cloudevent: no specversion attribute")

// MissingAttributeError is returned by Event.UnmarshalJSON for an event
// without one of its required attributes id, source or type (Name) when
// nothing else is wrong with it: the event is otherwise fully decoded, so
// a lenient caller (the transform preview) may go on with it.
type MissingAttributeError struct{ Name string }

func (e *MissingAttributeError) Error() string {
	return fmt.Sprintf("cloudevent: required attribute %q is missing or empty", e.Name)
}

type retryableError struct {
	err   error
	after time.Duration
}

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// Retryable marks err as transient: the engine retries the call with
// exponential backoff and jitter.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &retryableError{err: err}
}

// RetryAfter marks err as transient and asks the engine to wait at least d
// before the next attempt (a broker's throttle hint, a Retry-After header).
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryableError{err: err, after: d}
}

// Fatal marks err as one retrying cannot fix.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return &fatalError{err: err}
}

// IsFatal reports whether err was marked with Fatal.
func IsFatal(err error) bool {
	var f *fatalError
	return errors.As(err, &f)
}

// IsRetryable reports whether the engine may retry after err: it is not
// nil, not marked Fatal and not ErrEndOfInput. Unmarked errors are retryable
// because most I/O faults are transient; the engine's retry budget bounds
// the cost of being wrong. The engine checks its own ctx before retrying.
func IsRetryable(err error) bool {
	return err != nil && !IsFatal(err) && !errors.Is(err, ErrEndOfInput)
}

// BackoffHint returns the minimum wait err asked for with RetryAfter.
func BackoffHint(err error) time.Duration {
	// The longest hint anywhere in the tree: a sink that writes several
	// groups at once joins their errors, and marking the join retryable
	// again must not hide one group's throttle behind the outer mark.
	var longest time.Duration
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case nil:
			return
		case *retryableError:
			longest = max(longest, x.after)
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		}
	}
	walk(err)
	return longest
}

// RecordError is the failure of one record in a batch.
type RecordError struct {
	Index int // index in the batch passed to Write
	Err   error
}

// RecordErrors is returned by Sink.Write when only some records of a batch
// failed; every record not named was written. The engine sends the named
// records to the dead-letter sink or fails the task, as the connector's
// errors.tolerance says.
type RecordErrors []RecordError

func (e *RecordErrors) Error() string {
	if len(*e) == 1 {
		return fmt.Sprintf("record %d: %v", (*e)[0].Index, (*e)[0].Err)
	}
	return fmt.Sprintf("%d records failed; first: record %d: %v", len(*e), (*e)[0].Index, (*e)[0].Err)
}

// FieldError is a configuration problem with one field.
type FieldError struct {
	Field   string // the full config key, e.g. "sink.path"
	Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every problem found in a configuration.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return "invalid configuration: " + strings.Join(parts, "; ")
}

// Prefixed returns a copy of e whose field names carry prefix, as the
// engine reports a plugin's fields under "source.", "sink." and so on.
func (e *ValidationError) Prefixed(prefix string) *ValidationError {
	out := &ValidationError{Fields: make([]FieldError, len(e.Fields))}
	for i, f := range e.Fields {
		out.Fields[i] = FieldError{Field: prefix + f.Field, Message: f.Message}
	}
	return out
}
