package kit

import (
	"errors"
	"slices"

	"github.com/ferryhq/ferry/api"
)

// Resume lets a sink whose writes are not idempotent (a message queue)
// answer the engine's retry of a failed Write without sending again what
// that Write stored: the engine writes the same batch again after a
// retryable error, and Resume skips the events (by source and id, which
// CloudEvents makes unique together) the failed Write marked stored. So a
// retry neither repeats nor reorders them; only a send that failed after
// the system stored it (a timeout) still repeats (at-least-once).
//
// Use it from Write, which the engine never calls concurrently: through
// Resume.Write, or Begin, then Skip for each record before sending it and
// Stored (safe from several goroutines, for distinct records) after it
// was stored, then End with Write's error. The zero value is ready.
type Resume struct {
	skip   map[string]bool // stored by the previous, failed Write
	stored []bool          // stored during this Write, by batch index
}

// Write is a sink's whole use of a Resume in its Write: write, one Write
// of records that calls Skip and Stored, runs between Begin and End, and
// its error is returned. An empty batch writes nothing and forgets what a
// failed Write stored.
func (r *Resume) Write(records []api.Record, write func() error) error {
	if len(records) == 0 {
		r.End(records, nil)
		return nil
	}
	r.Begin(len(records))
	err := write()
	r.End(records, err)
	return err
}

// Begin starts a Write of n records.
func (r *Resume) Begin(n int) {
	r.stored = slices.Grow(r.stored[:0], n)[:n]
	clear(r.stored)
}

// Skip reports whether records[i] was stored by the failed Write before,
// and marks it stored now if so.
func (r *Resume) Skip(records []api.Record, i int) bool {
	if r.skip == nil || !r.skip[eventKey(&records[i].Event)] {
		return false
	}
	r.stored[i] = true
	return true
}

// Stored marks records[i] stored.
func (r *Resume) Stored(i int) { r.stored[i] = true }

// End finishes the Write of records that returned err. After a retryable
// error that is not api.RecordErrors the engine writes the same batch
// again, so the stored events are remembered for that Write; after
// anything else the memory is dropped.
func (r *Resume) End(records []api.Record, err error) {
	r.skip = nil
	var re *api.RecordErrors
	if err == nil || !api.IsRetryable(err) || errors.As(err, &re) {
		return
	}
	for i, ok := range r.stored {
		if ok && records[i].Event.ID != "" {
			if r.skip == nil {
				r.skip = map[string]bool{}
			}
			r.skip[eventKey(&records[i].Event)] = true
		}
	}
}

func eventKey(e *api.Event) string { return e.Source + "\x00" + e.ID }
