package api_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
)

// TestBackoffHintSeesThroughJoins: a sink that writes groups at once joins
// their errors, and marking the join retryable must not hide one group's
// throttle hint.
func TestBackoffHintSeesThroughJoins(t *testing.T) {
	t.Parallel()
	throttled := api.RetryAfter(errors.New("throttled"), 2*time.Second)
	joined := api.Retryable(errors.Join(api.Retryable(errors.New("timeout")), fmt.Errorf("group 3: %w", throttled)))
	if got := api.BackoffHint(joined); got != 2*time.Second {
		t.Fatalf("BackoffHint = %v, want 2s", got)
	}
	if got := api.BackoffHint(api.RetryAfter(throttled, time.Second)); got != 2*time.Second {
		t.Fatalf("the longest hint wins: %v", got)
	}
	if got := api.BackoffHint(errors.New("plain")); got != 0 {
		t.Fatalf("no hint: %v", got)
	}
}
