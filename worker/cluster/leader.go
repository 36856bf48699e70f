package cluster

import (
	"slices"
	"time"
)

// Leader returns the ID of the leader among the live workers: the oldest
// (earliest Start, ties by smaller ID) that is not draining, or the oldest
// draining one when all are draining. Away workers are not live and never
// lead. ok is false when no worker is live.
//
// Every worker computes the same leader from the same member list, with no
// election: the leader changes only when the membership does.
func Leader(workers []Worker) (id string, ok bool) {
	var best Worker
	for _, w := range workers {
		if w.Away || w.ID == "" {
			continue
		}
		if !ok || leads(w, best) {
			best, ok = w, true
		}
	}
	return best.ID, ok
}

// leads reports whether a ranks before b for leadership.
func leads(a, b Worker) bool {
	if a.Draining != b.Draining {
		return !a.Draining
	}
	if !a.Start.Equal(b.Start) {
		return a.Start.Before(b.Start)
	}
	return a.ID < b.ID
}

// Departure records a worker that left the membership.
type Departure struct {
	Worker string
	At     time.Time // when it was seen dead or left
	// Graceful departures (the worker left on purpose, draining) get no
	// grace period: their tasks move at once.
	Graceful bool
}

// InGrace returns the departed workers still inside the grace period at
// now, sorted, and the earliest time one of them leaves it (zero when
// none), so the caller can set one timer and assign again then.
//
// The caller passes them to Assign as Away workers: their tasks stay put, so
// a worker that restarts within the grace period finds its tasks waiting,
// and a short network blip moves nothing. A worker that departed twice is
// judged by its latest departure.
func InGrace(deps []Departure, now time.Time, grace time.Duration) (away []string, next time.Time) {
	if grace <= 0 {
		return nil, time.Time{}
	}
	latest := make(map[string]Departure, len(deps))
	for _, d := range deps {
		if old, ok := latest[d.Worker]; !ok || d.At.After(old.At) {
			latest[d.Worker] = d
		}
	}
	for id, d := range latest {
		if d.Graceful || id == "" {
			continue
		}
		end := d.At.Add(grace)
		if !now.Before(end) {
			continue
		}
		away = append(away, id)
		if next.IsZero() || end.Before(next) {
			next = end
		}
	}
	slices.Sort(away)
	return away, next
}
