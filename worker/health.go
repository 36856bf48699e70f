package worker

import (
	"fmt"
	"sync"
	"time"

	"github.com/ferryhq/ferry/runtime"
)

// healthWatch turns one task run's retry reports (runtime.Health) into its
// status: RUNNING with RetryingSince and the error as trace ("write:
// connection refused (3 failures so far, retrying)") while any operation
// is failing, plain RUNNING again once all recovered. Reports
// come from the task's goroutines and must not wait for the store, so the
// latest picture is written by a goroutine of the watch's own, which stop
// ends (after its last write) before the supervisor records what comes
// next.
type healthWatch struct {
	put   func(trace string, since time.Time)
	scrub func(string) string

	mu      sync.Mutex
	failing map[string]runtime.Health // by operation
	dirty   bool

	wake chan struct{}
	done chan struct{}
	quit chan struct{}
}

func newHealthWatch(put func(trace string, since time.Time), scrub func(string) string) *healthWatch {
	h := &healthWatch{put: put, scrub: scrub, failing: map[string]runtime.Health{},
		wake: make(chan struct{}, 1), done: make(chan struct{}), quit: make(chan struct{})}
	go h.loop()
	return h
}

// report is runtime.Config.OnHealth.
func (h *healthWatch) report(r runtime.Health) {
	h.mu.Lock()
	if r.Err == nil {
		if _, ok := h.failing[r.Op]; !ok {
			h.mu.Unlock()
			return
		}
		delete(h.failing, r.Op)
	} else {
		h.failing[r.Op] = r
	}
	h.dirty = true
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// picture is the status line of the current reports: the operation
// failing longest, with its latest error.
func (h *healthWatch) picture() (trace string, since time.Time, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.dirty {
		return "", time.Time{}, false
	}
	h.dirty = false
	var worst runtime.Health
	for _, r := range h.failing {
		if worst.Op == "" || r.Since.Before(worst.Since) {
			worst = r
		}
	}
	if worst.Op == "" {
		return "", time.Time{}, true
	}
	failures := "1 failure"
	if worst.Attempts != 1 {
		failures = fmt.Sprintf("%d failures", worst.Attempts)
	}
	return fmt.Sprintf("%s: %s (%s so far, retrying)", worst.Op, h.scrub(worst.Err.Error()), failures), worst.Since, true
}

func (h *healthWatch) loop() {
	defer close(h.done)
	for {
		select {
		case <-h.quit:
			return
		case <-h.wake:
			if trace, since, ok := h.picture(); ok {
				h.put(trace, since)
			}
		}
	}
}

// stop ends the writer and waits for its last write.
func (h *healthWatch) stop() {
	close(h.quit)
	<-h.done
}
