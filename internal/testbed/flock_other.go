//go:build !unix

package testbed

import "os"

const (
	lockShared = iota
	lockExclusive
	lockNone
)

// flock does nothing where flock(2) does not exist: tests there run without
// cross-process coordination (the test bed script itself needs bash and
// Linux anyway).
func flock(*os.File, int) error { return nil }
