package trace

import (
	"bytes"
	"maps"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"

	"github.com/ferryhq/ferry/api"
)

// DefaultSampleRate is the share of events traced in full unless a
// connector sets trace.sample.rate: one in a thousand keeps a busy
// connector's ring (DefaultPerConnector) about ten seconds deep at 100,000
// events/s and minutes deep at a few thousand, at a cost below the noise
// of the pipeline benchmarks (docs/benchmarks.md, "Event tracing").
const DefaultSampleRate = 0.001

// CheckSampleRate accepts a sample rate: a number from 0 (failures only)
// to 1 (every event). It is a config spec's Check.
func CheckSampleRate(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !ValidSampleRate(f) {
		return errSampleRate
	}
	return nil
}

// ValidSampleRate reports whether f is a sample rate (NaN is not).
func ValidSampleRate(f float64) bool { return f >= 0 && f <= 1 }

// Bounds of what one trace holds, so its size is bounded whatever the
// events and errors are.
const (
	maxField = 256  // event id, partition, position, transform alias
	maxError = 1024 // an error's text
	// maxSteps bounds a trace's steps: past it, a long chain's kept and
	// changed steps are left out (drops, failures and the sink's steps
	// still go in).
	maxSteps = 64
)

// Task is a task's handle on the Recorder: the sampling decision and the
// start of its traces. Its methods may be called from any goroutine.
type Task struct {
	r         *Recorder
	c         *conn
	connector string
	task      int
	threshold uint64 // an id whose hash is below it is sampled
	all       bool
}

// Task returns the handle of a connector's task tracing a share rate of
// its events (0 traces only failures; outside [0, 1] counts as 0).
func (r *Recorder) Task(connector string, task int, rate float64) *Task {
	r.mu.Lock()
	c := r.conn(connector)
	r.mu.Unlock()
	t := &Task{r: r, c: c, connector: connector, task: task}
	switch {
	case rate >= 1:
		t.all = true
	case rate > 0:
		t.threshold = uint64(math.Ldexp(rate, 64))
	}
	return t
}

// Sample reports whether the event with this id is traced in full: a
// hash of the id against the rate, the same in every task and run.
func (t *Task) Sample(id string) bool {
	return t.all || xxhash.Sum64String(id) < t.threshold
}

// TapRoom is how many events the connector's tap subscribers can take
// now (the most any one can); 0 when there is none or all are full. The
// runtime taps at most that many of a batch, so a slow subscriber costs
// the pipeline nothing.
func (t *Task) TapRoom() int { return t.c.tapRoom() }

// Start begins the trace of a record read at read: sampled (Sample said
// so), tapped (for the live tap), or neither when the event failed and is
// traced for that alone. The record is copied as needed; the caller keeps
// it.
func (t *Task) Start(r *api.Record, read time.Time, sampled, tapped bool) *Active {
	a := &Active{t: t, sampled: sampled, tapped: tapped}
	a.tr = Trace{
		Connector: t.connector, Task: t.task, EventID: clip(r.Event.ID, maxField),
		Partition: clip(r.Partition, maxField), Position: clip(string(r.Position), maxField),
		Sampled: sampled, Read: read,
	}
	if sampled || tapped {
		a.last = snapshot(r)
	}
	if tapped {
		ev := a.last.Event
		a.stages = append(a.stages, TapStage{Step: Step{Stage: StageSource, Decision: Read, Time: read}, After: &ev})
	}
	return a
}

// Active is the trace of one event in flight. It belongs to the goroutine
// holding the event; Finish (or Drop, Deliver) ends it, and every call
// after that is ignored.
type Active struct {
	t       *Task
	tr      Trace
	sampled bool
	tapped  bool
	done    bool
	last    api.Record // the event as the previous stage passed it on
	stages  []TapStage // tapped only
}

// Transform records a transform's decision about the record r it was
// given (now as the transform left it), keep as the transform returned.
// A failed transform is recorded with Fail instead.
func (a *Active) Transform(name string, r *api.Record, keep bool, at time.Time) {
	if a.done {
		return
	}
	d := Drop
	if keep {
		d = Kept
		if !same(&a.last, r) {
			d = Changed
		}
	}
	s := Step{Stage: StageTransform, Name: clip(name, maxField), Decision: d, Time: at}
	if d == Drop || len(a.tr.Steps) < maxSteps-4 {
		a.tr.Steps = append(a.tr.Steps, s)
	}
	if a.tapped {
		before := a.last.Event
		ts := TapStage{Step: s, Before: &before}
		if keep {
			a.last = snapshot(r)
			after := a.last.Event
			ts.After = &after
		}
		a.stages = append(a.stages, ts)
	} else if keep && d == Changed {
		a.last = snapshot(r)
	}
}

// Written records the sink's write of the event after retries.
func (a *Active) Written(retries int, at time.Time) {
	a.step(Step{Stage: StageSink, Decision: Written, Retries: retries, Time: at})
}

// Fail records a stage that failed the event: StageTransform (name is the
// alias) or StageSink, with the error's text (already scrubbed of
// secrets) and the retries of the write.
func (a *Active) Fail(stage, name, err string, retries int, at time.Time) {
	a.step(Step{Stage: stage, Name: clip(name, maxField), Decision: Fail, Error: clip(err, maxError), Retries: retries, Time: at})
}

// DeadLettered records the dead-letter sink's write of the event.
func (a *Active) DeadLettered(at time.Time) {
	a.step(Step{Stage: StageDeadLetter, Decision: Written, Time: at})
}

func (a *Active) step(s Step) {
	if a.done {
		return
	}
	a.tr.Steps = append(a.tr.Steps, s)
	if a.tapped {
		before := a.last.Event
		a.stages = append(a.stages, TapStage{Step: s, Before: &before})
	}
}

// Drop ends the trace of an event a transform dropped.
func (a *Active) Drop(at time.Time) { a.Finish(Dropped, at) }

// Deliver ends the trace of an event the sink acknowledged.
func (a *Active) Deliver(at time.Time) { a.Finish(Delivered, at) }

// Finish ends the trace with its outcome: a sampled or failed event's
// trace goes to the connector's ring, a tapped one to its tap.
func (a *Active) Finish(o Outcome, at time.Time) {
	if a.done {
		return
	}
	a.done = true
	a.tr.Outcome, a.tr.Done = o, at
	if a.sampled || o == Failed {
		a.t.r.add(a.t.connector, &a.tr)
	}
	if a.tapped {
		a.t.c.publish(TapEvent{
			Connector: a.tr.Connector, Task: a.tr.Task, EventID: a.tr.EventID,
			Partition: a.tr.Partition, Position: a.tr.Position, Stages: a.stages, Outcome: o,
		})
	}
	a.last, a.stages = api.Record{}, nil
}

// Done reports whether the trace has ended.
func (a *Active) Done() bool { return a.done }

// snapshot copies r as a later stage cannot change it: transforms replace
// Data and Key rather than write into them, but change the extension map
// in place.
func snapshot(r *api.Record) api.Record {
	s := *r
	if s.Event.Extensions != nil {
		s.Event.Extensions = maps.Clone(s.Event.Extensions)
	}
	return s
}

// same reports whether a transform left the record as it got it.
func same(a, b *api.Record) bool {
	ea, eb := &a.Event, &b.Event
	return ea.ID == eb.ID && ea.Source == eb.Source && ea.SpecVersion == eb.SpecVersion &&
		ea.Type == eb.Type && ea.Subject == eb.Subject && ea.Time.Equal(eb.Time) &&
		ea.DataContentType == eb.DataContentType && ea.DataSchema == eb.DataSchema &&
		bytes.Equal(ea.Data, eb.Data) && bytes.Equal(a.Key, b.Key) &&
		a.Partition == b.Partition && bytes.Equal(a.Position, b.Position) &&
		len(ea.Extensions) == len(eb.Extensions) && (len(ea.Extensions) == 0 || reflect.DeepEqual(ea.Extensions, eb.Extensions))
}

// clip returns a copy of s cut to at most n bytes at a rune boundary,
// marking the cut. A copy, because s may share its bytes with much more
// (a source's ids of a whole batch in one string) that a kept trace must
// not hold on to.
func clip(s string, n int) string {
	if len(s) <= n {
		return strings.Clone(s)
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// size estimates the trace's memory.
func (t *Trace) size() int64 {
	n := 256 + len(t.Connector) + len(t.EventID) + len(t.Partition) + len(t.Position)
	for i := range t.Steps {
		n += 96 + len(t.Steps[i].Name) + len(t.Steps[i].Error)
	}
	return int64(n)
}
