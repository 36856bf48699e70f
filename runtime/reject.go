package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime/trace"
)

// failure is one record the task could not deliver and why.
type failure struct {
	rec       *api.Record // as it failed (possibly transformed)
	orig      *api.Record // as the source read it; nil when rec is
	meta      *recMeta
	stage     string
	transform string // the failing transform's alias; "" for the sink
	code      string
	err       error
	retries   int
	condition Condition
}

// keepOriginals reports whether the task keeps a copy of every record as
// read: only a dead-letter sink needs it, and only when transforms may
// change records before they fail.
func (t *Task) keepOriginals() bool {
	return t.cfg.DeadLetter != nil && t.cfg.Tolerance == ToleranceAll && len(t.cfg.Transforms) > 0
}

// deadLettersExhausted reports whether a write that ran out of retries
// sends its records to the dead-letter sink instead of failing the task.
func (t *Task) deadLettersExhausted() bool {
	return t.cfg.DeadLetter != nil && t.cfg.Tolerance == ToleranceAll
}

// originals returns copies of recs as read, or nil when the task keeps
// none. The copies share Data and Key, which transforms replace rather
// than write into; the extension map, which they change in place, is
// cloned.
func (t *Task) originals(recs []api.Record) []api.Record {
	if !t.keepOriginals() {
		return nil
	}
	out := make([]api.Record, len(recs))
	copy(out, recs)
	for i := range out {
		if ext := out[i].Event.Extensions; ext != nil {
			out[i].Event.Extensions = maps.Clone(ext)
		}
	}
	return out
}

// original returns record i of b as read, or nil when b keeps none.
func (b *batch) original(i int) *api.Record {
	if b.orig == nil {
		return nil
	}
	return &b.orig[i]
}

// original returns record i of the pass as read, or nil.
func (c *chainRun) original(i int) *api.Record {
	if c.orig == nil {
		return nil
	}
	return &c.orig[i]
}

// reject applies the error tolerance to one failed record: with none it
// returns the error that fails the task; with all it sends the original
// record to the dead-letter sink (when configured) and returns nil, so
// the caller acknowledges it. A dead-letter write is retried under the
// task's retry policy; when it still fails, reject returns an error that
// fails the task and the record stays unacknowledged, so it is read again
// after the restart: a record is never dropped silently.
func (t *Task) reject(ctx context.Context, f failure) error {
	r := f.rec
	t.m.errs.Add(1)
	desc := fmt.Sprintf("%s failed for event %q (partition %q, position %q)", f.stage, r.Event.ID, r.Partition, r.Position)
	a := t.failTrace(f)
	if a != nil {
		defer func() { a.Finish(trace.Failed, time.Now()) }()
	}
	if t.cfg.Tolerance != ToleranceAll {
		// Fatal: replaying the same record would fail the same way, so the
		// worker must not restart the task in a loop.
		return api.Fatal(fmt.Errorf("%s: %w (errors.tolerance=none)", desc, f.err))
	}
	level := slog.LevelDebug
	if t.cfg.LogErrors {
		level = slog.LevelWarn
	}
	t.log.Log(ctx, level, "skipping bad record (errors.tolerance=all)", "stage", f.stage, "event_id", r.Event.ID, "partition", r.Partition, "position", string(r.Position), "err", f.err)
	if t.cfg.DeadLetter == nil {
		return nil
	}
	dead := t.deadLetter(f)
	t.dlqMu.Lock()
	defer t.dlqMu.Unlock()
	err := t.retry(ctx, "dead-letter write", func() error {
		if err := t.cfg.DeadLetter.Write(ctx, []api.Record{dead}); err != nil {
			var re *api.RecordErrors
			if errors.As(err, &re) {
				return api.Fatal(err)
			}
			return err
		}
		if f, ok := t.cfg.DeadLetter.(api.Flusher); ok {
			return f.Flush(ctx)
		}
		return nil
	})
	if err != nil {
		if a != nil {
			a.Fail(trace.StageDeadLetter, "", t.errorText(err), 0, time.Now())
		}
		return fmt.Errorf("%s: %w; and the dead-letter sink failed too: %v", desc, f.err, err)
	}
	t.m.dlq.Add(1)
	if a != nil {
		a.DeadLettered(time.Now())
	}
	return nil
}
