package runtime

import (
	"encoding/json"
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
