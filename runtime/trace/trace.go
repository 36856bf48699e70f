package trace

import (
	"fmt"
	"time"

	"github.com/ferryhq/ferry/api"
)

// Outcome is what finally became of a traced event.
type Outcome string

// Outcomes.
const (
	// Delivered: the sink wrote the event and it was acknowledged.
	Delivered Outcome = "delivered"
	// Dropped: a transform dropped (filtered) the event.
	Dropped Outcome = "dropped"
	// Failed: a transform or the sink failed the event; it was
	// dead-lettered, skipped (errors.tolerance=all) or failed the task.
	Failed Outcome = "failed"
)

// ParseOutcome accepts an Outcome's name, or "" for any.
func ParseOutcome(s string) (Outcome, error) {
	switch o := Outcome(s); o {
	case "", Delivered, Dropped, Failed:
		return o, nil
	}
	return "", fmt.Errorf("outcome must be %s, %s or %s, got %q", Dropped, Failed, Delivered, s)
}

// Stages of a trace's steps.
const (
	StageSource     = "source"      // the source read the event (tap events only)
	StageTransform  = "transform"   // a transform, named by Step.Name
	StageSink       = "sink"        // the connector's sink
	StageDeadLetter = "dead-letter" // the dead-letter sink
)

// Decision is what one stage did with an event.
type Decision string

// Decisions.
const (
	Read    Decision = "read"    // source: the event as read
	Kept    Decision = "kept"    // transform: passed on unchanged
	Changed Decision = "changed" // transform: passed on changed
	Drop    Decision = "dropped" // transform: filtered out
	Fail    Decision = "failed"  // transform or sink: failed with Step.Error
	Written Decision = "written" // sink or dead-letter sink: written
)

// Step is one stage's decision about an event and when it was made.
type Step struct {
	Stage    string    `json:"stage"`
	Name     string    `json:"name,omitempty"` // the transform's alias
	Decision Decision  `json:"decision"`
	Error    string    `json:"error,omitempty"`
	Retries  int       `json:"retries,omitempty"` // sink: retries of the write that settled it
	Time     time.Time `json:"time"`
}

// Trace is the history of one event in one task.
type Trace struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
	EventID   string `json:"event_id"`
	Partition string `json:"partition"`
	Position  string `json:"position"`
	// Sampled is false for an event traced only because it failed: its
	// steps then hold only the failure (and its dead-letter write).
	Sampled bool      `json:"sampled"`
	Read    time.Time `json:"read"`
	Steps   []Step    `json:"steps"`
	Outcome Outcome   `json:"outcome"`
	Done    time.Time `json:"done"`
}

// Filter selects traces. Zero fields select everything.
type Filter struct {
	EventID string
	// Since keeps traces finished at or after it.
	Since   time.Time
	Outcome Outcome
	// Limit caps the traces returned (newest first); 0 or more than
	// MaxLimit means MaxLimit.
	Limit int
}

// MaxLimit bounds the traces one query returns.
const MaxLimit = 1000

func (f *Filter) match(t *Trace) bool {
	return (f.EventID == "" || f.EventID == t.EventID) &&
		(f.Outcome == "" || f.Outcome == t.Outcome) &&
		!t.Done.Before(f.Since)
}

// TapEvent is one event a connector's task finished, as a live tap shows
// it: every stage with the record before and after it.
type TapEvent struct {
	Connector string     `json:"connector"`
	Task      int        `json:"task"`
	EventID   string     `json:"event_id"`
	Partition string     `json:"partition"`
	Position  string     `json:"position"`
	Stages    []TapStage `json:"stages"`
	Outcome   Outcome    `json:"outcome"`
	// Missed counts the events this subscriber lost to a full channel
	// since the previous event it received.
	Missed int64 `json:"missed,omitempty"`
}

// TapStage is one stage of a TapEvent. Before is the event as the stage
// got it (absent for the source), After as it passed it on (absent when
// the stage dropped or failed it, and for the sinks).
type TapStage struct {
	Step
	Before *api.Event `json:"before,omitempty"`
	After  *api.Event `json:"after,omitempty"`
}
