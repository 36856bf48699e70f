package testbed

import "errors"

var (
	// ErrNotConfigured means no FERRY_TESTBED_* key names the service,
	// neither in the environment nor in the env file: the test bed is not
	// up, or that service (an emulator not yet built) is not part of it.
	ErrNotConfigured = errors.New("testbed: service not configured")

	// ErrUnreachable means the service is configured but its address did
	// not accept a TCP connection: the env file is stale or the service died.
	ErrUnreachable = errors.New("testbed: service unreachable")

	// ErrBadValue means a configured value cannot be used (a port that is
	// not a number, an empty address list).
	ErrBadValue = errors.New("testbed: bad value")

	// ErrLockTimeout means a test waited too long for a service that
	// other tests were restarting or using (see Run).
	ErrLockTimeout = errors.New("testbed: timed out waiting for the service lock")
)
