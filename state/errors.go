package state

import "errors"

var (
	// ErrNotFound means the connector does not exist.
	ErrNotFound = errors.New("not found")
	// ErrFenced means a newer generation owns the offsets: the committing
	// task is a zombie and must stop.
	ErrFenced = errors.New("fenced by a newer generation")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store closed")
)

// ErrInvalid means an argument breaks the store's rules (an empty connector
// name, a task index below ConnectorTask).
var ErrInvalid = errors.New("invalid argument")
