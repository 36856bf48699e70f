package testbed

import "syscall"

// scratchProcAttr has the kernel kill a scratch mariadbd when the test
// process dies without running its cleanups (a -timeout panic, SIGKILL),
// so no orphan server keeps running.
func scratchProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
