//go:build unix

package testbed

import (
	"syscall"
	"testing"
	"time"
)

// tryExclusive reports whether an exclusive lock on key could be had right
// now through a fresh file, as another process would.
func tryExclusive(t *testing.T, dir, key string) bool {
	t.Helper()
	f, err := openLock(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return true
}

func TestShareHeldForTheTestsLife(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Run("user", func(t *testing.T) {
		if err := share(t, dir, "rocketmq"); err != nil {
			t.Fatal(err)
		}
		if tryExclusive(t, dir, "rocketmq") {
			t.Fatal("exclusive lock granted while a test holds the service")
		}
		if !tryExclusive(t, dir, "kafka") {
			t.Fatal("a different service's lock is blocked")
		}
	})
	if !tryExclusive(t, dir, "rocketmq") {
		t.Fatal("shared lock still held after the test ended")
	}
}

func TestExclusiveWaitsForOtherUsers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	got := make(chan time.Time, 1)
	releasing := make(chan time.Time, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-releasing // the user holds the service from here on
		// Another test (a stand-in for another process) restarting.
		release, err := exclusive(&recordingTB{TB: t}, dir, "rocketmq")
		if err != nil {
			t.Error(err)
			return
		}
		got <- time.Now()
		release()
	}()
	var ended time.Time
	t.Run("user", func(u *testing.T) {
		if err := share(u, dir, "rocketmq"); err != nil {
			u.Fatal(err)
		}
		// Runs just before share's own cleanup releases the lock.
		u.Cleanup(func() { ended = time.Now() })
		releasing <- time.Now()
		select {
		case <-got:
			u.Fatal("exclusive lock granted while the service was in use")
		case <-time.After(200 * time.Millisecond):
		}
	})
	select {
	case at := <-got:
		if at.Before(ended) {
			t.Fatalf("exclusive lock granted at %v, before the user ended at %v", at, ended)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("exclusive lock not granted after the user ended")
	}
	<-done
}

func TestExclusiveSetsOwnHoldAside(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := share(t, dir, "rocketmq"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		release, err := exclusive(t, dir, "rocketmq")
		if err != nil {
			t.Error(err)
			return
		}
		release()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a test waiting for its own shared lock deadlocked")
	}
	if tryExclusive(t, dir, "rocketmq") {
		t.Fatal("the test's shared lock was not taken back after the exclusive section")
	}
}

func TestLockKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ svc, want string }{
		{"rocketmq", "rocketmq"}, {"namesrv", "rocketmq"}, {"broker", "rocketmq"},
		{"kafka", "kafka"}, {"mariadb", "mariadb"}, {"sls", "sls"}, {"mns", "mns"}, {"dts", "dts"},
		{"up", ""}, {"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.svc, func(t *testing.T) {
			t.Parallel()
			if got := lockKey(tc.svc); got != tc.want {
				t.Fatalf("lockKey(%q) = %q, want %q", tc.svc, got, tc.want)
			}
		})
	}
}
