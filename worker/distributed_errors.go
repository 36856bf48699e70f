package worker

import "errors"

// Errors of cluster mode. They live beside the distributed worker because
// worker/errors.go is shared with the standalone worker's owners; the lead
// may move them there.
var (
	// ErrRegisterConflict: a ClusterStore.PutRegister lost its
	// compare-and-set (another writer came first).
	ErrRegisterConflict = errors.New("register version conflict")
	// ErrNotClustered: the worker does not run in cluster mode (GET
	// /cluster on a standalone worker answers 404).
	ErrNotClustered = errors.New("not a cluster worker")
)
