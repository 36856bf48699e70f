package runtime

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ferryhq/ferry/api"
)

// retry runs op until it succeeds, fails with an error that is not
// retryable, ctx ends, or Retry.Timeout has passed since the first failure.
// Delays grow exponentially from Retry.Initial to Retry.Max with full jitter,
// and are never shorter than a plugin's api.RetryAfter hint.
func (t *Task) retry(ctx context.Context, what string, op func() error) error {
	var first time.Time
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil {
			if attempt > 0 && t.cfg.OnHealth != nil {
				t.cfg.OnHealth(Health{Op: what})
			}
			return nil
		}
		if !api.IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		if t.cfg.Retry.Disabled {
			return fmt.Errorf("%s: %w (errors.retry.timeout=0: no retries): %w", what, ErrRetriesExhausted, err)
		}
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		if t.cfg.Retry.Timeout > 0 && now.Sub(first) >= t.cfg.Retry.Timeout {
			return fmt.Errorf("%s: %w after %d attempts in %s: %w", what, ErrRetriesExhausted, attempt+1, now.Sub(first).Round(time.Millisecond), err)
		}
		if t.cfg.OnHealth != nil && attempt%10 == 0 {
			t.cfg.OnHealth(Health{Op: what, Since: first, Err: err, Attempts: attempt + 1})
		}
		t.m.retries.Add(1)
		d := backoff(t.cfg.Retry, attempt)
		if hint := api.BackoffHint(err); hint > d {
			d = hint
		}
		if attempt == 0 || attempt%10 == 0 {
			t.log.Warn("retrying after error", "op", what, "attempt", attempt+1, "delay", d, "err", err)
		}
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return err
		}
	}
}

// backoff returns the delay before retry attempt+1: a uniformly random
// duration in [0, min(Max, Initial·2^attempt)] ("full jitter"), so many
// tasks failing together do not retry in lockstep.
func backoff(r Retry, attempt int) time.Duration {
	ceiling := r.Max
	if attempt < 32 {
		if d := r.Initial << attempt; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}
