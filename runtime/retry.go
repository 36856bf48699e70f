package runtime

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ferryhq/ferry/api"
)

// Strategy names a retry schedule: the delays between the attempts of a
// failing operation and, for EventBridge's two, their own limits.
type Strategy string

// Retry strategies. The EventBridge names (BACKOFF_RETRY,
// EXPONENTIAL_DECAY_RETRY) are accepted by ParseStrategy.
const (
	// StrategyExponential doubles the ceiling of a random delay from
	// Retry.Initial up to Retry.Max ("full jitter"), with no limit of its
	// own. The default.
	StrategyExponential Strategy = "exponential"
	// StrategyBackoff is EventBridge's BACKOFF_RETRY: 3 retries, each
	// after a random 10–20 s.
	StrategyBackoff Strategy = "backoff"
	// StrategyExponentialDecay is EventBridge's EXPONENTIAL_DECAY_RETRY:
	// 1 s doubling to 512 s, then 512 s, for up to 176 retries within a
	// day.
	StrategyExponentialDecay Strategy = "exponential-decay"
)

// Limits of EventBridge's strategies.
const (
	backoffRetries  = 3
	backoffMinDelay = 10 * time.Second
	backoffMaxDelay = 20 * time.Second
	decayRetries    = 176
	decayMaxAge     = 24 * time.Hour
	decayFirstDelay = time.Second
	decayMaxDelay   = 512 * time.Second
)

// ParseStrategy accepts a strategy's name or its EventBridge alias.
func ParseStrategy(s string) (Strategy, error) {
	switch s {
	case "", string(StrategyExponential):
		return StrategyExponential, nil
	case string(StrategyBackoff), "BACKOFF_RETRY":
		return StrategyBackoff, nil
	case string(StrategyExponentialDecay), "EXPONENTIAL_DECAY_RETRY":
		return StrategyExponentialDecay, nil
	}
	return "", fmt.Errorf("unknown retry strategy %q: want exponential, backoff (BACKOFF_RETRY) or exponential-decay (EXPONENTIAL_DECAY_RETRY)", s)
}

// Condition says which limit ended a series of retries, in the words of
// EventBridge's dead-letter records (exhaustedRetryCondition).
type Condition string

// Conditions that end a series of retries.
const (
	// ExhaustedAttempts: the strategy's or Retry.MaxAttempts' count of
	// retries was used up (or retries are disabled).
	ExhaustedAttempts Condition = "MaximumRetryAttempts"
	// ExhaustedAge: the series lasted Retry.Timeout, or the strategy's
	// own age limit.
	ExhaustedAge Condition = "MaximumEventAgeInSeconds"
)

// Next is the retry schedule, a pure function: given that an operation
// has failed retries+1 times (retries retries were made) over elapsed
// since its first failure, it returns the delay before the next attempt,
// or the condition that ends the series. rnd(n) returns a uniform random
// number in [0, n); tests pass a fixed one.
func (r Retry) Next(retries int, elapsed time.Duration, rnd func(n int64) int64) (time.Duration, Condition) {
	if r.Disabled {
		return 0, ExhaustedAttempts
	}
	maxRetries, maxAge := -1, r.Timeout
	switch r.Strategy {
	case StrategyBackoff:
		maxRetries = backoffRetries
	case StrategyExponentialDecay:
		maxRetries = decayRetries
		if maxAge <= 0 || maxAge > decayMaxAge {
			maxAge = decayMaxAge
		}
	}
	if r.MaxAttempts > 0 && (maxRetries < 0 || r.MaxAttempts < maxRetries) {
		maxRetries = r.MaxAttempts
	}
	switch {
	case maxRetries >= 0 && retries >= maxRetries:
		return 0, ExhaustedAttempts
	case maxAge > 0 && elapsed >= maxAge:
		return 0, ExhaustedAge
	}
	switch r.Strategy {
	case StrategyBackoff:
		return backoffMinDelay + time.Duration(rnd(int64(backoffMaxDelay-backoffMinDelay)+1)), ""
	case StrategyExponentialDecay:
		if retries >= 10 { // 1 s · 2⁹ = 512 s
			return decayMaxDelay, ""
		}
		return decayFirstDelay << retries, ""
	}
	return fullJitter(r, retries, rnd), ""
}

// fullJitter returns a uniformly random duration in
// [0, min(Max, Initial·2^retries)], so many tasks failing together do not
// retry in lockstep.
func fullJitter(r Retry, retries int, rnd func(n int64) int64) time.Duration {
	ceiling := r.Max
	if retries < 32 {
		if d := r.Initial << retries; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return time.Duration(rnd(int64(ceiling) + 1))
}

// RetryError is the error of an operation whose retries ran out. It
// matches ErrRetriesExhausted and the operation's last error.
type RetryError struct {
	Op        string
	Retries   int           // retries made after the first failure
	Elapsed   time.Duration // since the first failure
	Condition Condition
	Err       error // the last failure
}

func (e *RetryError) Error() string {
	if e.Retries == 0 && e.Elapsed == 0 {
		return fmt.Sprintf("%s: %v (no retries allowed: %s): %v", e.Op, ErrRetriesExhausted, e.Condition, e.Err)
	}
	return fmt.Sprintf("%s: %v after %d attempts in %s (%s): %v", e.Op, ErrRetriesExhausted, e.Retries+1, e.Elapsed.Round(time.Millisecond), e.Condition, e.Err)
}

// Unwrap lets errors.Is match ErrRetriesExhausted and the last failure.
func (e *RetryError) Unwrap() []error { return []error{ErrRetriesExhausted, e.Err} }

// clock is the time a task's retries wait on; tests replace it.
type clock struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	rnd   func(n int64) int64
}

var realClock = clock{now: time.Now, sleep: sleepCtx, rnd: rand.Int64N}

func sleepCtx(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retry runs op until it succeeds, fails with an error that is not
// retryable, ctx ends, or Retry's schedule (Next) ends the series; then it
// returns a *RetryError. Delays are never shorter than a plugin's
// api.RetryAfter hint.
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
		now := t.clock.now()
		if first.IsZero() {
			first = now
		}
		d, stop := t.cfg.Retry.Next(attempt, now.Sub(first), t.clock.rnd)
		if stop != "" {
			return &RetryError{Op: what, Retries: attempt, Elapsed: now.Sub(first), Condition: stop, Err: err}
		}
		if t.cfg.OnHealth != nil && attempt%10 == 0 {
			t.cfg.OnHealth(Health{Op: what, Since: first, Err: err, Attempts: attempt + 1})
		}
		t.m.retries.Add(1)
		if hint := api.BackoffHint(err); hint > d {
			d = hint
		}
		if attempt == 0 || attempt%10 == 0 {
			t.log.Warn("retrying after error", "op", what, "attempt", attempt+1, "delay", d, "err", err)
		}
		if t.clock.sleep(ctx, d) != nil {
			return err
		}
	}
}
