//go:build unix

package cputime

import (
	"testing"
	"time"
)

// TestSelfCounts: work done between two readings shows in their
// difference.
func TestSelfCounts(t *testing.T) {
	t0 := Self()
	if t0 <= 0 {
		t.Fatalf("Self() = %v before any work", t0)
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	if d := Self() - t0; d < 10*time.Millisecond {
		t.Fatalf("50 ms of spinning (%d rounds) counted %v of CPU", x, d)
	}
}
