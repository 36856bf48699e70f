package cluster

import "errors"

var (
	// ErrInvalidInput: Assign was given an empty worker id, an empty
	// connector name or a negative task index.
	ErrInvalidInput = errors.New("invalid assignment input")
	// ErrInvalidConfig wraps every problem MembershipConfig.Validate finds.
	ErrInvalidConfig = errors.New("invalid membership config")
	// ErrClosed: the membership was closed or has left; create a new one
	// to join again.
	ErrClosed = errors.New("membership closed")
	// ErrRunning: Run was called twice.
	ErrRunning = errors.New("membership already running")
	// ErrKeyring: SetKeys was given a keyring it cannot install (a bad
	// key, or one that would turn encryption on or off); the keyring in
	// use is unchanged unless the error says a step failed.
	ErrKeyring = errors.New("gossip keyring not changed")
)
