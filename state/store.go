package state

import (
	"context"
	"time"

	"github.com/ferryhq/ferry/api"
)

// TargetState is the state an operator asks a connector to be in.
type TargetState string

// Target states.
const (
	TargetRunning TargetState = "RUNNING"
	TargetPaused  TargetState = "PAUSED"
	TargetStopped TargetState = "STOPPED"
)

// Connector is a connector's durable definition.
type Connector struct {
	Name   string
	Config map[string]string // as submitted: secret references unresolved
	Target TargetState
	// Revision increases with every change of Config or Target; the store
	// assigns it on PutConnector.
	Revision int64
	Created  time.Time
	Updated  time.Time
}

// State is the observed state of a connector or task, as Kafka Connect
// reports it.
type State string

// Observed states.
const (
	StateUnassigned State = "UNASSIGNED"
	StateRunning    State = "RUNNING"
	StatePaused     State = "PAUSED"
	StateStopped    State = "STOPPED"
	StateFailed     State = "FAILED"
	StateRestarting State = "RESTARTING"
	StateFinished   State = "FINISHED" // a finite source reached its end
)

// ConnectorTask is the Task value of a Status that describes the connector
// itself rather than one of its tasks.
const ConnectorTask = -1

// Status is the observed state of a connector (Task == ConnectorTask) or of
// one of its tasks.
type Status struct {
	Connector string
	Task      int
	State     State
	WorkerID  string
	Trace     string // last error with context; empty when healthy
	// RetryingSince, when set, says a RUNNING task has had an operation
	// failing since then, being retried; Trace holds its last error.
	RetryingSince time.Time
	Generation    int64
	Updated       time.Time
}

// Store keeps offsets, connector definitions and status durably.
//
// All methods are safe for concurrent use. Reads return copies the caller
// may keep. Methods return ErrClosed after Close.
type Store interface {
	// PutConnector creates or replaces a connector's definition and
	// returns it with its new Revision.
	PutConnector(ctx context.Context, c Connector) (Connector, error)
	// DeleteConnector removes a connector's definition and status. Its
	// offsets are kept, so a connector re-created under the same name
	// resumes; ResetOffsets clears them. ErrNotFound if absent.
	DeleteConnector(ctx context.Context, name string) error
	// Connector returns one definition, or ErrNotFound.
	Connector(ctx context.Context, name string) (Connector, error)
	// Connectors returns every definition, sorted by name.
	Connectors(ctx context.Context) ([]Connector, error)

	// CommitOffsets records positions for a connector's partitions,
	// written by a task of the given generation. A partition whose stored
	// generation is newer is not overwritten: the call returns ErrFenced
	// and commits nothing (a zombie task must stop).
	CommitOffsets(ctx context.Context, connector string, generation int64, offsets map[string]api.Position) error
	// Offsets returns the committed position of every partition of a
	// connector (empty map, not an error, when none).
	Offsets(ctx context.Context, connector string) (map[string]api.Position, error)
	// AlterOffsets is the operator's override: it sets the given
	// partitions (a nil position deletes the partition) regardless of
	// generation. With a nil map it deletes every offset of the connector.
	AlterOffsets(ctx context.Context, connector string, offsets map[string]api.Position) error

	// PutStatus records the observed status of a connector or task. A
	// status from an older generation than the stored one is ignored.
	PutStatus(ctx context.Context, s Status) error
	// Statuses returns a connector's statuses: the connector's own (Task ==
	// ConnectorTask) first, then its tasks by index.
	Statuses(ctx context.Context, connector string) ([]Status, error)

	// Close releases the store. It is idempotent.
	Close() error
}
