package runtime

import "time"

// window is the batch window between the chain and the sink
// (Config.BatchMaxRecords, BatchMaxWait): the writer's records wait in it
// until enough of them do, the first has waited long enough, or the
// in-flight budget is spent (the reader could bring no more, so waiting
// would only stall). A nil *window writes every batch at once. Only the
// writer goroutine uses it.
type window struct {
	maxRecords int
	maxWait    time.Duration
	held       *batch // records waiting, nil when none
	timer      *time.Timer
	timerC     <-chan time.Time
}

// newWindow returns the task's window, or nil when it has none.
func (t *Task) newWindow() *window {
	if t.cfg.BatchMaxRecords <= 0 || t.cfg.BatchMaxWait <= 0 {
		return nil
	}
	return &window{maxRecords: t.cfg.BatchMaxRecords, maxWait: t.cfg.BatchMaxWait}
}

// add puts b in the window and returns the batch to write now, or nil
// while the window waits. budgetFull is asked only when the count is not
// reached.
func (w *window) add(b *batch, budgetFull func() bool) *batch {
	if w == nil {
		return b
	}
	if w.held == nil {
		w.held = b
		w.arm()
	} else {
		w.held.recs = append(w.held.recs, b.recs...)
		w.held.metas = append(w.held.metas, b.metas...)
		if w.held.orig != nil {
			w.held.orig = append(w.held.orig, b.orig...)
		}
	}
	if len(w.held.recs) >= w.maxRecords || budgetFull() {
		return w.take()
	}
	return nil
}

// take empties the window, returning what it held (nil when nothing).
func (w *window) take() *batch {
	if w == nil || w.held == nil {
		return nil
	}
	b := w.held
	w.held, w.timerC = nil, nil
	w.timer.Stop()
	return b
}

// arm starts the wait of the window's first record.
func (w *window) arm() {
	if w.timer == nil {
		w.timer = time.NewTimer(w.maxWait)
	} else {
		w.timer.Reset(w.maxWait)
	}
	w.timerC = w.timer.C
}

// timeout fires when the first waiting record has waited maxWait; nil
// (never) when nothing waits or there is no window.
func (w *window) timeout() <-chan time.Time {
	if w == nil {
		return nil
	}
	return w.timerC
}

func (w *window) stop() {
	if w != nil && w.timer != nil {
		w.timer.Stop()
	}
}

// budgetFull reports whether the in-flight budget is spent, so the reader
// waits for the writer.
func (t *Task) budgetFull() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.inflightRecs >= t.cfg.MaxInFlightRecords || t.inflightBytes >= t.cfg.MaxInFlightBytes
}
