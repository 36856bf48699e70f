package kit

import (
	"time"

	"github.com/ferryhq/ferry/api"
)

// Class is the triage of a failure: what a sink and the engine do about
// it. Every connector sorts its system's errors into these three and
// marks them with api's error protocol through Triage, rather than
// deciding retries on its own.
type Class uint8

// Classes.
const (
	// Transient: a timeout, a lost connection, a leader move, a throttle.
	// The call is retried with backoff, no sooner than the system's
	// retry-after hint.
	Transient Class = iota
	// RecordFault: one record's own data is at fault (too large, refused
	// by a constraint or the broker). That record is rejected in
	// api.RecordErrors and the engine applies errors.tolerance (the
	// dead-letter sink or a task failure); the rest of the batch goes on.
	RecordFault
	// Fatal: configuration, permissions, a missing database or topic.
	// Retrying cannot help; the task fails, with a message saying what to
	// fix.
	Fatal
)

func (c Class) String() string {
	switch c {
	case RecordFault:
		return "record"
	case Fatal:
		return "fatal"
	}
	return "transient"
}

// Triage is one system's classification of its errors.
type Triage struct {
	// Classify sorts an error. Errors it does not know should be
	// Transient, as the engine treats unmarked I/O errors: its retry
	// budget bounds the cost of being wrong.
	Classify func(error) Class
	// RetryAfter, when set, returns the wait a transient error asks for
	// (a server's throttle time or Retry-After), 0 for none.
	RetryAfter func(error) time.Duration
}

// Mark wraps err for the engine by its class: api.Fatal when Fatal, else
// retryable, with api.RetryAfter when the system asked for a wait. A
// RecordFault that reaches Mark was not pinned to one record (a whole
// statement or batch failed): it is retryable, so the sink can isolate
// the record on the next attempt; pin it with Reject instead when the
// record is known.
func (t Triage) Mark(err error) error {
	if err == nil {
		return nil
	}
	if t.Classify(err) == Fatal {
		return api.Fatal(err)
	}
	if t.RetryAfter != nil {
		if d := t.RetryAfter(err); d > 0 {
			return api.RetryAfter(err, d)
		}
	}
	return api.Retryable(err)
}

// Reject is the failure of record index of a batch through its own data:
// marked fatal, since resending the same record cannot succeed.
func Reject(index int, err error) api.RecordError {
	return api.RecordError{Index: index, Err: api.Fatal(err)}
}
