//go:build unix

package mysql_test

import (
	"syscall"
	"time"
)

// cpuTime is the process's user and system CPU time so far: what the
// benchmarks report per row, since the machine's other load moves
// wall-clock rates.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
