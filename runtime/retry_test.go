package runtime_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/runtime"
)

// lowest and highest are random sources at the two ends of their range.
func lowest(int64) int64    { return 0 }
func highest(n int64) int64 { return n - 1 }

func TestRetryScheduleIsAPureFunction(t *testing.T) {
	t.Parallel()
	exp := runtime.Retry{Strategy: runtime.StrategyExponential, Initial: 100 * time.Millisecond, Max: 30 * time.Second}
	backoff := runtime.Retry{Strategy: runtime.StrategyBackoff}
	decay := runtime.Retry{Strategy: runtime.StrategyExponentialDecay}
	with := func(r runtime.Retry, edit func(*runtime.Retry)) runtime.Retry { edit(&r); return r }
	for _, tc := range []struct {
		name    string
		r       runtime.Retry
		retries int
		elapsed time.Duration
		rnd     func(int64) int64
		want    time.Duration
		stop    runtime.Condition
	}{
		{"exponential first, top of jitter", exp, 0, 0, highest, 100 * time.Millisecond, ""},
		{"exponential first, bottom of jitter", exp, 0, 0, lowest, 0, ""},
		{"exponential doubles", exp, 3, time.Second, highest, 800 * time.Millisecond, ""},
		{"exponential capped at Max", exp, 20, time.Hour, highest, 30 * time.Second, ""},
		{"exponential past 2^63 stays capped", exp, 70, time.Hour, highest, 30 * time.Second, ""},
		{"exponential has no count of its own", exp, 1_000_000, 1000 * time.Hour, highest, 30 * time.Second, ""},
		{"exponential within Timeout", with(exp, func(r *runtime.Retry) { r.Timeout = time.Minute }), 5, 59 * time.Second, highest, 3200 * time.Millisecond, ""},
		{"exponential at Timeout", with(exp, func(r *runtime.Retry) { r.Timeout = time.Minute }), 5, time.Minute, highest, 0, runtime.ExhaustedAge},
		{"exponential MaxAttempts", with(exp, func(r *runtime.Retry) { r.MaxAttempts = 4 }), 4, time.Second, highest, 0, runtime.ExhaustedAttempts},
		{"disabled", with(exp, func(r *runtime.Retry) { r.Disabled = true }), 0, 0, highest, 0, runtime.ExhaustedAttempts},
		{"backoff first, low", backoff, 0, 0, lowest, 10 * time.Second, ""},
		{"backoff first, high", backoff, 0, 0, highest, 20 * time.Second, ""},
		{"backoff third", backoff, 2, 40 * time.Second, lowest, 10 * time.Second, ""},
		{"backoff after three retries", backoff, 3, time.Minute, lowest, 0, runtime.ExhaustedAttempts},
		{"backoff MaxAttempts lowers it", with(backoff, func(r *runtime.Retry) { r.MaxAttempts = 1 }), 1, 15 * time.Second, lowest, 0, runtime.ExhaustedAttempts},
		{"backoff MaxAttempts cannot raise it", with(backoff, func(r *runtime.Retry) { r.MaxAttempts = 10 }), 3, time.Minute, lowest, 0, runtime.ExhaustedAttempts},
		{"backoff Timeout", with(backoff, func(r *runtime.Retry) { r.Timeout = 15 * time.Second }), 1, 15 * time.Second, lowest, 0, runtime.ExhaustedAge},
		{"decay 1 s", decay, 0, 0, highest, time.Second, ""},
		{"decay 2 s", decay, 1, time.Second, highest, 2 * time.Second, ""},
		{"decay 256 s", decay, 8, 255 * time.Second, highest, 256 * time.Second, ""},
		{"decay 512 s", decay, 9, 511 * time.Second, highest, 512 * time.Second, ""},
		{"decay stays at 512 s", decay, 10, 1023 * time.Second, highest, 512 * time.Second, ""},
		{"decay 176th retry", decay, 175, 85503 * time.Second, highest, 512 * time.Second, ""},
		{"decay after 176 retries", decay, 176, 86015 * time.Second, highest, 0, runtime.ExhaustedAttempts},
		{"decay after a day", decay, 100, 24 * time.Hour, highest, 0, runtime.ExhaustedAge},
		{"decay Timeout beyond a day is a day", with(decay, func(r *runtime.Retry) { r.Timeout = 48 * time.Hour }), 100, 24 * time.Hour, highest, 0, runtime.ExhaustedAge},
		{"decay Timeout lowers the day", with(decay, func(r *runtime.Retry) { r.Timeout = time.Hour }), 12, time.Hour, highest, 0, runtime.ExhaustedAge},
		{"decay MaxAttempts", with(decay, func(r *runtime.Retry) { r.MaxAttempts = 10 }), 10, 1023 * time.Second, highest, 0, runtime.ExhaustedAttempts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, stop := tc.r.Next(tc.retries, tc.elapsed, tc.rnd)
			if d != tc.want || stop != tc.stop {
				t.Errorf("Next(%d, %v) = %v, %q; want %v, %q", tc.retries, tc.elapsed, d, stop, tc.want, tc.stop)
			}
		})
	}
}

func TestParseStrategyAcceptsEventBridgeNames(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]runtime.Strategy{
		"": runtime.StrategyExponential, "exponential": runtime.StrategyExponential,
		"backoff": runtime.StrategyBackoff, "BACKOFF_RETRY": runtime.StrategyBackoff,
		"exponential-decay": runtime.StrategyExponentialDecay, "EXPONENTIAL_DECAY_RETRY": runtime.StrategyExponentialDecay,
	} {
		if got, err := runtime.ParseStrategy(in); err != nil || got != want {
			t.Errorf("ParseStrategy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"Backoff", "backoff_retry", "linear", " exponential", strings.Repeat("x", 10000)} {
		if _, err := runtime.ParseStrategy(bad); err == nil {
			t.Errorf("ParseStrategy(%q) accepted", bad)
		}
	}
}

// fakeClock is a clock whose sleeps advance it at once and are recorded.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

// TestEventBridgeStrategiesFollowTheirSchedules runs a task whose sink
// always fails transiently under each EventBridge strategy on a fake
// clock, and checks the waits it made and the condition that ended them.
func TestEventBridgeStrategiesFollowTheirSchedules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		strategy runtime.Strategy
		check    func(t *testing.T, sleeps []time.Duration)
		stop     runtime.Condition
	}{
		{runtime.StrategyBackoff, func(t *testing.T, sleeps []time.Duration) {
			if len(sleeps) != 3 {
				t.Fatalf("%d retries, want 3: %v", len(sleeps), sleeps)
			}
			distinct := map[time.Duration]bool{}
			for _, d := range sleeps {
				if d < 10*time.Second || d > 20*time.Second {
					t.Errorf("wait %v outside 10–20 s", d)
				}
				distinct[d] = true
			}
			if len(distinct) == 1 {
				t.Errorf("waits %v are not random", sleeps)
			}
		}, runtime.ExhaustedAttempts},
		{runtime.StrategyExponentialDecay, func(t *testing.T, sleeps []time.Duration) {
			if len(sleeps) != 176 {
				t.Fatalf("%d retries, want 176", len(sleeps))
			}
			var total time.Duration
			for i, d := range sleeps {
				want := 512 * time.Second
				if i < 10 {
					want = time.Second << i
				}
				if d != want {
					t.Errorf("wait %d = %v, want %v", i+1, d, want)
				}
				total += d
			}
			if total > 24*time.Hour {
				t.Errorf("retries took %v, more than a day", total)
			}
		}, runtime.ExhaustedAttempts},
	} {
		t.Run(string(tc.strategy), func(t *testing.T) {
			t.Parallel()
			sink := &memSink{failN: 1 << 30}
			task, err := runtime.New(runtime.Config{Source: &countSource{n: 1, batch: 1}, Sink: sink, Committer: &memCommitter{},
				Retry: runtime.Retry{Strategy: tc.strategy}})
			if err != nil {
				t.Fatal(err)
			}
			clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			seed := int64(0)
			runtime.SetClock(task, clk.Now, clk.Sleep, func(n int64) int64 { seed = (seed*1103515245 + 12345) & 0x7fffffff; return seed % n })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = task.Run(ctx)
			var re *runtime.RetryError
			if !errors.As(err, &re) || !errors.Is(err, runtime.ErrRetriesExhausted) {
				t.Fatalf("Run = %v, want a RetryError", err)
			}
			if re.Condition != tc.stop || re.Op != "write" || re.Retries != len(clk.sleeps) {
				t.Errorf("RetryError %+v, want op write, %d retries, %s", re, len(clk.sleeps), tc.stop)
			}
			if sink.writes != len(clk.sleeps)+1 {
				t.Errorf("sink saw %d writes, want %d", sink.writes, len(clk.sleeps)+1)
			}
			tc.check(t, clk.sleeps)
		})
	}
}
