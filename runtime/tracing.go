package runtime

import (
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime/trace"
)

// The runtime's hooks into Config.Tracer (package trace). Each is called
// only when the task traces; a record's trace (recMeta.tr) travels with
// its bookkeeping from stage to stage, so only the goroutine holding the
// record touches it.

// startTraces starts the traces of a batch just read: records whose id is
// sampled, and as many as the connector's live taps can take now.
func (t *Task) startTraces(recs []api.Record, metas []recMeta, read time.Time) {
	room := t.tracer.TapRoom()
	ns := read.UnixNano()
	for i := range recs {
		r := &recs[i]
		metas[i].read = ns
		sampled := t.tracer.Sample(r.Event.ID)
		if tapped := i < room; sampled || tapped {
			metas[i].tr = t.tracer.Start(r, read, sampled, tapped)
		}
	}
}

// applyTraced is the chain over a traced record: as chainRun.run's loop,
// recording each transform's decision. A failure is recorded by reject.
func (c *chainRun) applyTraced(r *api.Record, a *trace.Active) (keep bool, name string, err error) {
	for c.step = 0; c.step < len(c.chain); c.step++ {
		tr := &c.chain[c.step]
		if keep, err = tr.Transform.Apply(r); err != nil {
			return keep, tr.Name, err
		}
		a.Transform(tr.Name, r, keep, time.Now())
		if !keep {
			return false, tr.Name, nil
		}
	}
	return true, "", nil
}

// failTrace returns the trace of a failed record with the failure
// recorded: its own when it was traced already, else a new unsampled one
// (every failure is traced). Nil when the task does not trace.
func (t *Task) failTrace(f failure) *trace.Active {
	if t.tracer == nil {
		return nil
	}
	a := f.meta.tr
	if a == nil {
		r := f.orig
		if r == nil {
			r = f.rec
		}
		a = t.tracer.Start(r, time.Unix(0, f.meta.read), false, false)
		f.meta.tr = a
	}
	stage := trace.StageSink
	if f.transform != "" {
		stage = trace.StageTransform
	}
	a.Fail(stage, f.transform, t.errorText(f.err), f.retries, time.Now())
	return a
}

// traceWritten records the sink's write of a chunk's traced records
// (those it rejected are already finished).
func traceWritten(metas []recMeta, retries int) {
	var now time.Time
	for i := range metas {
		if a := metas[i].tr; a != nil && !a.Done() {
			if now.IsZero() {
				now = time.Now()
			}
			a.Written(retries, now)
		}
	}
}

// traceDelivered ends the traces of acknowledged records; those already
// ended (dropped, failed) stay as they are.
func traceDelivered(metas []recMeta) {
	var now time.Time
	for i := range metas {
		if a := metas[i].tr; a != nil && !a.Done() {
			if now.IsZero() {
				now = time.Now()
			}
			a.Deliver(now)
		}
	}
}
