package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker/cluster"
)

// ClusterStore is the replicated store a Distributed worker needs: an
// state.Store every worker of the cluster sees alike, plus
// compare-and-set registers ordered with the connector definitions (the
// leader publishes task configs and assignments in them) and a wake-up
// feed of changes written by any worker. state/rocketmq provides one
// (cmd/ferry adapts it).
type ClusterStore interface {
	state.Store
	// PutRegister sets key to value when its version is still expect (0:
	// never written) and returns the new version; otherwise it returns an
	// error wrapping ErrRegisterConflict. Of two writers expecting the
	// same version, exactly one wins on every worker's view.
	PutRegister(ctx context.Context, key string, expect int64, value []byte) (int64, error)
	// Register returns key's value and version (nil, 0 when never written).
	Register(ctx context.Context, key string) ([]byte, int64, error)
	// RegisterKeys lists the keys starting with prefix.
	RegisterKeys(ctx context.Context, prefix string) ([]string, error)
	// Watch signals (coalesced, never blocking the store) that something
	// changed; cancel stops it.
	Watch() (<-chan struct{}, func())
	// FenceRun refuses every later commit of the run of generation that
	// worker ran of a task of connector, for the partitions that run
	// committed last, and returns once offsets read from this store
	// include everything the run committed before.
	FenceRun(ctx context.Context, connector, worker string, generation int64) error
}

// Register keys. Task sets live under a prefix so that a deleted
// connector's set can be found and tombstoned.
// The barrier register holds nothing useful: writing it makes a replica
// catch up (see Distributed.catchUp). The loggers register holds the log
// levels set with scope=cluster (clusterLevels).
const (
	regAssignment = "assignment"
	regTasks      = "tasks/"
	regBarrier    = "barrier"
	regLoggers    = "loggers"
)

// taskSet is what the leader publishes per connector: the task configs it
// planned once from one revision of the connector, with everything a task
// owner needs to decide whether its running task is still current.
type taskSet struct {
	// Revision is the connector revision the set was planned from; 0 is a
	// tombstone (the connector was deleted).
	Revision int64             `json:"revision"`
	Target   state.TargetState `json:"target"`
	// Configs holds each task's full config, secret references unresolved.
	Configs []map[string]string `json:"configs"`
	// Failed is the connector-level failure (invalid config, planning);
	// such a connector has no tasks.
	Failed string `json:"failed,omitempty"`
	// Epoch increases when an operator restarts the connector, so a
	// failed connector is planned again although its revision is the same.
	Epoch int64 `json:"epoch,omitempty"`
	// Restarts counts operator restarts of each task: a change restarts
	// the task on its owner.
	Restarts []int64 `json:"restarts,omitempty"`
	// Requests holds the ids of the last restart requests applied to the
	// set (oldest first, at most maxRequests), so a replayed one is
	// recognised and not applied twice.
	Requests []string `json:"requests,omitempty"`
}

// maxRequests bounds taskSet.Requests. A replay comes within a leader
// wait of its first attempt, so a short memory suffices.
const maxRequests = 32

// remember records request id (when not empty) as applied.
func (ts *taskSet) remember(id string) {
	if id == "" {
		return
	}
	ts.Requests = append(ts.Requests, id)
	if n := len(ts.Requests) - maxRequests; n > 0 {
		ts.Requests = slices.Delete(ts.Requests, 0, n)
	}
}

func (ts taskSet) restarts(i int) int64 {
	if i < len(ts.Restarts) {
		return ts.Restarts[i]
	}
	return 0
}

// readTaskSet reads a connector's published task set and its version.
func readTaskSet(ctx context.Context, st ClusterStore, conn string) (taskSet, int64, error) {
	b, ver, err := st.Register(ctx, regTasks+conn)
	if err != nil || ver == 0 {
		return taskSet{}, ver, err
	}
	var ts taskSet
	if err := json.Unmarshal(b, &ts); err != nil {
		return taskSet{}, ver, fmt.Errorf("task set of %q: %w", conn, err)
	}
	return ts, ver, nil
}

// readAssignment reads the published assignment and its version.
func readAssignment(ctx context.Context, st ClusterStore) (cluster.Assignment, int64, error) {
	b, ver, err := st.Register(ctx, regAssignment)
	if err != nil || ver == 0 {
		return cluster.Assignment{}, ver, err
	}
	var a cluster.Assignment
	if err := json.Unmarshal(b, &a); err != nil {
		return cluster.Assignment{}, ver, fmt.Errorf("assignment: %w", err)
	}
	return a, ver, nil
}
