package runtime

import (
	"context"
	"time"
)

// SetClock replaces the time a task's retries wait on: now, sleep (which
// may advance now) and the random source of jittered delays. Call it
// before Run.
func SetClock(t *Task, now func() time.Time, sleep func(context.Context, time.Duration) error, rnd func(int64) int64) {
	t.clock = clock{now: now, sleep: sleep, rnd: rnd}
}
