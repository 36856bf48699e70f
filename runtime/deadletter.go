package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"

	"github.com/ferryhq/ferry/api"
)

// DeadLetterFormat is how a dead-letter record carries a failed event.
type DeadLetterFormat string

// Dead-letter formats (errors.deadletterqueue.format).
const (
	// DeadLetterCloudEvent sends the original event itself, with the
	// error as extension attributes ferryerror, ferryerrorstage,
	// ferryerrorcode, ferryerrorconnector, ferryerrortask,
	// ferryerrorposition and ferryerrorretries. The default.
	DeadLetterCloudEvent DeadLetterFormat = "cloudevent"
	// DeadLetterEnvelope sends an event of type DeadLetterType whose data
	// is a JSON envelope (Envelope) holding the error and the original
	// event in structured mode, as AWS EventBridge's dead-letter record.
	DeadLetterEnvelope DeadLetterFormat = "envelope"
)

// DeadLetterType is the type of DeadLetterEnvelope's events.
const DeadLetterType = "ferry.deadletter.v1"

// Error codes of dead-letter records (Envelope.ErrorCode, the
// ferryerrorcode extension).
const (
	CodeTransformFailed  = "TransformFailed"  // a transform failed or panicked
	CodeSinkRejected     = "SinkRejected"     // the sink refused the record alone (api.RecordErrors)
	CodeRetriesExhausted = "RetriesExhausted" // the sink kept failing transiently until the retry policy gave up
)

// Envelope is the data of a DeadLetterEnvelope record.
type Envelope struct {
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
	// RetryAttempts counts the retries of the write that failed.
	RetryAttempts int `json:"retryAttempts"`
	// ExhaustedRetryCondition names the limit that ended the retries;
	// null when the failure was not retried to exhaustion.
	ExhaustedRetryCondition *Condition `json:"exhaustedRetryCondition"`
	Stage                   string     `json:"stage"`
	Connector               string     `json:"connector"`
	Task                    int        `json:"task"`
	Partition               string     `json:"partition"`
	Position                string     `json:"position"`
	// Event is the original event, as the source read it, in CloudEvents
	// structured mode.
	Event json.RawMessage `json:"event"`
}

// failure is one record the task could not deliver and why.
type failure struct {
	rec       *api.Record // as it failed (possibly transformed)
	orig      *api.Record // as the source read it; nil when rec is
	stage     string
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
		return fmt.Errorf("%s: %w; and the dead-letter sink failed too: %v", desc, f.err, err)
	}
	t.m.dlq.Add(1)
	return nil
}

// deadLetter builds the dead-letter record of f in the task's format.
func (t *Task) deadLetter(f failure) api.Record {
	orig := f.orig
	if orig == nil {
		orig = f.rec
	}
	if t.cfg.DeadLetterFormat == DeadLetterEnvelope {
		return t.envelope(f, orig)
	}
	dead := *orig
	dead.Event.Extensions = make(map[string]any, len(orig.Event.Extensions)+7)
	maps.Copy(dead.Event.Extensions, orig.Event.Extensions)
	dead.Event.Extensions["ferryerror"] = t.errorText(f.err)
	dead.Event.Extensions["ferryerrorstage"] = f.stage
	dead.Event.Extensions["ferryerrorcode"] = f.code
	dead.Event.Extensions["ferryerrorconnector"] = t.cfg.Connector
	dead.Event.Extensions["ferryerrortask"] = int64(t.cfg.Task)
	dead.Event.Extensions["ferryerrorposition"] = string(orig.Position)
	dead.Event.Extensions["ferryerrorretries"] = int64(f.retries)
	return dead
}

// errorText is err's text as a dead letter carries it: with the task's
// secrets hidden (Config.ScrubError), since a plugin error may quote one.
func (t *Task) errorText(err error) string {
	if t.cfg.ScrubError != nil {
		return t.cfg.ScrubError(err.Error())
	}
	return err.Error()
}

// envelope wraps the original event and the error in an Envelope.
func (t *Task) envelope(f failure, orig *api.Record) api.Record {
	env := Envelope{
		ErrorCode: f.code, ErrorMessage: t.errorText(f.err), RetryAttempts: f.retries,
		Stage: f.stage, Connector: t.cfg.Connector, Task: t.cfg.Task,
		Partition: orig.Partition, Position: string(orig.Position),
	}
	if f.condition != "" {
		c := f.condition
		env.ExhaustedRetryCondition = &c
	}
	ev, err := orig.Event.AppendJSON(nil)
	if err != nil {
		// Data that does not match its JSON content type: carry it as
		// bytes (data_base64) rather than lose the event.
		e := orig.Event
		e.DataContentType = "application/octet-stream"
		if ev, err = e.AppendJSON(nil); err != nil {
			ev = []byte("null")
		}
	}
	env.Event = ev
	data, err := json.Marshal(env)
	if err != nil { // not reached: every field encodes
		data = []byte(`{"errorCode":` + strconv.Quote(f.code) + `}`)
	}
	return api.Record{
		Event: api.Event{
			ID: orig.Event.ID, Source: orig.Event.Source, Type: DeadLetterType, Subject: orig.Event.Subject,
			Time: orig.Event.Time, DataContentType: "application/json", Data: data,
		},
		Key: orig.Key, Partition: orig.Partition, Position: orig.Position,
	}
}
