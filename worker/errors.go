package worker

import "errors"

var (
	// ErrNotFound: no such connector, task or plugin (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrExists: a connector with that name exists (HTTP 409).
	ErrExists = errors.New("already exists")
	// ErrRebalancing: the cluster is rebalancing; retry (HTTP 409).
	ErrRebalancing = errors.New("cluster is rebalancing")
	// ErrNoLeader: a cluster worker found no reachable leader for a
	// write within its leader wait (one was being chosen, or the old one
	// just died); the write was not applied, retry it (HTTP 503 with
	// Retry-After).
	ErrNoLeader = errors.New("no cluster leader available")
	// ErrNotStopped: offsets may only change while the connector is STOPPED
	// (HTTP 400, as Kafka Connect).
	ErrNotStopped = errors.New("connector must be in the STOPPED state")
	// ErrBadRequest wraps any other client mistake (HTTP 400).
	ErrBadRequest = errors.New("bad request")
	// ErrRegisterConflict: a ClusterStore.PutRegister lost its
	// compare-and-set (another writer came first).
	ErrRegisterConflict = errors.New("register version conflict")
	// ErrLeaderRefused: the leader refused a forwarded write's credentials
	// (HTTP 401 or 403 as the leader answered): the workers' tokens or
	// users files differ, or the caller's role does not allow the write.
	ErrLeaderRefused = errors.New("the leader refused the request's credentials")
	// ErrNotClustered: the worker does not run in cluster mode (GET
	// /cluster on a standalone worker answers 404).
	ErrNotClustered = errors.New("not a cluster worker")
)

// KindError is an error of one of the kinds above (Kind) worded by whoever
// found it, without the sentinel's text: a mistake the REST layer finds
// itself, or a leader's error answer rebuilt. errors.Is(err, Kind) holds.
type KindError struct {
	Kind error
	Msg  string
}

func (e *KindError) Error() string { return e.Msg }
func (e *KindError) Unwrap() error { return e.Kind }

// LeaderRefusedError is the leader's 401 or 403 to a forwarded write; the
// REST API answers it with the leader's Status. It is an ErrLeaderRefused.
type LeaderRefusedError struct {
	Status int
	Msg    string
}

func (e *LeaderRefusedError) Error() string { return e.Msg }
func (e *LeaderRefusedError) Unwrap() error { return ErrLeaderRefused }
