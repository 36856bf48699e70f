package worker

import (
	"testing"
	"time"

	"github.com/ferryhq/ferry/runtime"
)

// TestRetryPolicyFromKeys: the errors.retry.* keys map onto the runtime's
// policy; errors.retry.timeout's default bounds the exponential strategy
// only, an explicit value bounds any.
func TestRetryPolicyFromKeys(t *testing.T) {
	t.Parallel()
	base := map[string]string{"name": "x", "source": "s", "sink": "k"}
	for _, tc := range []struct {
		name string
		kv   map[string]string
		want runtime.Retry
	}{
		{"defaults", nil, runtime.Retry{Strategy: runtime.StrategyExponential, Max: 30 * time.Second, Timeout: 5 * time.Minute}},
		{"timeout -1", map[string]string{"errors.retry.timeout": "-1"}, runtime.Retry{Strategy: runtime.StrategyExponential, Max: 30 * time.Second}},
		{"timeout 0", map[string]string{"errors.retry.timeout": "0"}, runtime.Retry{Strategy: runtime.StrategyExponential, Max: 30 * time.Second, Disabled: true}},
		{"backoff keeps its own limits", map[string]string{"errors.retry.strategy": "BACKOFF_RETRY"}, runtime.Retry{Strategy: runtime.StrategyBackoff, Max: 30 * time.Second}},
		{"decay with an explicit timeout", map[string]string{"errors.retry.strategy": "exponential-decay", "errors.retry.timeout": "3600000"},
			runtime.Retry{Strategy: runtime.StrategyExponentialDecay, Max: 30 * time.Second, Timeout: time.Hour}},
		{"max age lowers the timeout", map[string]string{"errors.retry.max.age.ms": "60000"}, runtime.Retry{Strategy: runtime.StrategyExponential, Max: 30 * time.Second, Timeout: time.Minute}},
		{"max age above the timeout", map[string]string{"errors.retry.max.age.ms": "3600000"}, runtime.Retry{Strategy: runtime.StrategyExponential, Max: 30 * time.Second, Timeout: 5 * time.Minute}},
		{"max age bounds forever", map[string]string{"errors.retry.timeout": "-1", "errors.retry.max.age.ms": "2h"}, runtime.Retry{Strategy: runtime.StrategyExponential, Max: 30 * time.Second, Timeout: 2 * time.Hour}},
		{"max attempts", map[string]string{"errors.retry.strategy": "EXPONENTIAL_DECAY_RETRY", "errors.retry.max.attempts": "12"},
			runtime.Retry{Strategy: runtime.StrategyExponentialDecay, Max: 30 * time.Second, MaxAttempts: 12}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := map[string]string{}
			for k, v := range base {
				raw[k] = v
			}
			for k, v := range tc.kv {
				raw[k] = v
			}
			e, err := envelopeSpec(time.Second).Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			_, set := raw[keyRetryTimeout]
			if got := retryPolicy(e, set); got != tc.want {
				t.Errorf("retryPolicy = %+v, want %+v", got, tc.want)
			}
		})
	}
}
