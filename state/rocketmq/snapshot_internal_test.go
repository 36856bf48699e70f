package rocketmq

import (
	"testing"
	"time"
)

func TestAgeDue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name  string
		basis time.Time
		want  bool
	}{
		{"nothing to snapshot", time.Time{}, false},
		{"fresh", now.Add(-time.Minute), false},
		{"just under", now.Add(-6*time.Hour + time.Nanosecond), false},
		{"exactly the age", now.Add(-6 * time.Hour), true},
		{"older", now.Add(-70 * time.Hour), true},
		{"writer clock ahead", now.Add(time.Hour), false},
	}
	for _, tt := range tests {
		if got := ageDue(tt.basis, now, 6*time.Hour); got != tt.want {
			t.Errorf("%s: ageDue = %v, want %v", tt.name, got, tt.want)
		}
	}
	if future := time.Now().Add(time.Hour); !notAfterNow(future).Before(future) {
		t.Errorf("notAfterNow kept a future time")
	}
	if past := time.Now().Add(-time.Hour); !notAfterNow(past).Equal(past) {
		t.Errorf("notAfterNow moved a past time")
	}
}
