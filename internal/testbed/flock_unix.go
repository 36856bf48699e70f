//go:build unix

package testbed

import (
	"errors"
	"os"
	"syscall"
	"time"
)

const (
	lockShared    = syscall.LOCK_SH
	lockExclusive = syscall.LOCK_EX
	lockNone      = syscall.LOCK_UN
)

// lockWait bounds a wait for a lock: a restart takes well under a minute,
// but two tests that each hold one service and restart the other's would
// otherwise wait for each other for ever.
const lockWait = 4 * time.Minute

// flock takes or drops a lock, polling rather than blocking so that a wait
// can end with an error instead of hanging the test binary.
func flock(f *os.File, how int) error {
	if how == lockNone {
		return syscall.Flock(int(f.Fd()), how)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return err
		}
		if time.Now().After(deadline) {
			return ErrLockTimeout
		}
		time.Sleep(50 * time.Millisecond)
	}
}
