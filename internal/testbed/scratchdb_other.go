//go:build !linux

package testbed

import "syscall"

// scratchProcAttr: only Linux can tie a child's life to its parent's.
func scratchProcAttr() *syscall.SysProcAttr { return nil }
