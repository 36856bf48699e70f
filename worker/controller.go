package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
)

// Controller is everything the REST API (and so the CLI) can ask of a
// worker. The standalone worker implements it directly; in cluster mode a
// worker implements it by answering reads locally and forwarding writes to
// the leader. Types mirror Kafka Connect's REST payloads.
//
// Errors: ErrNotFound (404), ErrExists (409), ErrRebalancing (409),
// ErrNoLeader (503 with Retry-After),
// *api.ValidationError (400, field-level), ErrBadRequest-wrapped errors (400),
// anything else 500.
type Controller interface {
	// WorkerID identifies this worker in status payloads.
	WorkerID() string

	Plugins() []PluginInfo
	// PluginConfig returns a plugin's declared fields (its Spec).
	PluginConfig(plugin string) ([]ConfigKeyInfo, error)
	// Validate checks a full connector config (the envelope with source=,
	// sink=, transforms=…) and reports every field; plugin names the
	// connector-plugins/{plugin} path segment and must match source= or
	// sink= when given ("" skips that check).
	Validate(ctx context.Context, plugin string, config map[string]string) (ConfigInfos, error)

	Connectors(ctx context.Context) ([]string, error)
	// CreateConnector validates and stores a new connector and starts it
	// in the initial state (RUNNING when empty). ErrExists if the name is
	// taken.
	CreateConnector(ctx context.Context, name string, config map[string]string, initial state.TargetState) (ConnectorInfo, error)
	// PutConnectorConfig creates or replaces; created reports which.
	PutConnectorConfig(ctx context.Context, name string, config map[string]string) (info ConnectorInfo, created bool, err error)
	// PatchConnectorConfig merges patch into the existing config; a nil
	// value deletes the key.
	PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (ConnectorInfo, error)
	DeleteConnector(ctx context.Context, name string) error
	// ConnectorInfo returns the config with secrets redacted.
	ConnectorInfo(ctx context.Context, name string) (ConnectorInfo, error)
	ConnectorStatus(ctx context.Context, name string) (ConnectorStateInfo, error)
	TaskConfigs(ctx context.Context, name string) ([]TaskInfo, error)
	TaskStatus(ctx context.Context, name string, task int) (TaskStateInfo, error)

	// RestartConnector restarts the connector and, with includeTasks, its
	// tasks (only the failed ones with onlyFailed). It returns the status
	// after the restart was requested.
	RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (ConnectorStateInfo, error)
	RestartTask(ctx context.Context, name string, task int) error
	// SetTargetState pauses, resumes or stops a connector.
	SetTargetState(ctx context.Context, name string, target state.TargetState) error

	Offsets(ctx context.Context, name string) (ConnectorOffsets, error)
	// AlterOffsets and ResetOffsets require the connector to be STOPPED
	// (ErrNotStopped otherwise).
	AlterOffsets(ctx context.Context, name string, offsets ConnectorOffsets) error
	ResetOffsets(ctx context.Context, name string) error

	// PreviewTransforms runs events through the transform chain that
	// config declares (transforms=, predicates= and their sections; other
	// connector keys are ignored) without creating a connector, and
	// returns one result per event, in order. An invalid chain is a
	// *api.ValidationError like the connector's; more than
	// MaxPreviewEvents events is ErrBadRequest. A transform failing on one
	// event is that result's Error, not an error of the call.
	PreviewTransforms(ctx context.Context, config map[string]string, events []api.Event) ([]PreviewResult, error)
}

// PreviewRequest is the body of POST /transforms/preview: the chain's
// config and the events, CloudEvents in structured JSON.
type PreviewRequest struct {
	Config map[string]string `json:"config"`
	Events []json.RawMessage `json:"events"`
}

// PreviewResponse is the answer of POST /transforms/preview.
type PreviewResponse struct {
	Results []PreviewResult `json:"results"`
}

// PreviewResult is what the transform chain made of one input event:
// the output events (structured JSON, extensions in name order), or the
// alias of the step that dropped it, or the error of the step that failed.
type PreviewResult struct {
	Dropped   bool              `json:"dropped"`
	DroppedBy string            `json:"dropped_by"`
	Events    []json.RawMessage `json:"events"`
	Error     string            `json:"error"`
	// Warnings say what the input event lacks that a real event would
	// have (a type, a subject); the preview ran anyway.
	Warnings []string `json:"warnings,omitempty"`
}

// PluginInfo is one entry of GET /connector-plugins.
type PluginInfo struct {
	// Class is unique across kinds: ferry.<kind>.<name> (PluginClass).
	Class   string `json:"class"`
	Type    string `json:"type"` // source, sink, transformation, predicate
	Version string `json:"version"`
	Summary string `json:"summary,omitempty"`
}

// ConfigKeyInfo describes one field of a plugin, as GET
// /connector-plugins/{plugin}/config returns it.
type ConfigKeyInfo struct {
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Required      bool     `json:"required"`
	DefaultValue  *string  `json:"default_value"`
	Importance    string   `json:"importance"`
	Documentation string   `json:"documentation"`
	Group         string   `json:"group"`
	OrderInGroup  int      `json:"order_in_group"`
	Width         string   `json:"width"`
	DisplayName   string   `json:"display_name"`
	Dependents    []string `json:"dependents"`
	Secret        bool     `json:"secret,omitempty"`
	Enum          []string `json:"enum,omitempty"`
}

// ConfigInfos is the answer of PUT /connector-plugins/{plugin}/config/validate.
type ConfigInfos struct {
	Name       string       `json:"name"`
	ErrorCount int          `json:"error_count"`
	Groups     []string     `json:"groups"`
	Configs    []ConfigInfo `json:"configs"`
}

// ConfigInfo pairs a field's definition with the submitted value and its
// errors.
type ConfigInfo struct {
	Definition ConfigKeyInfo   `json:"definition"`
	Value      ConfigValueInfo `json:"value"`
}

// ConfigValueInfo is the submitted value of a field (redacted when secret).
type ConfigValueInfo struct {
	Name              string   `json:"name"`
	Value             *string  `json:"value"`
	RecommendedValues []string `json:"recommended_values"`
	Errors            []string `json:"errors"`
	Visible           bool     `json:"visible"`
}

// ConnectorInfo is a connector's config (secrets redacted) and tasks.
type ConnectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []TaskID          `json:"tasks"`
	Type   string            `json:"type"` // "source": Ferry connectors are pipelines led by a source
}

// TaskID names one task.
type TaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// TaskInfo is one entry of GET /connectors/{name}/tasks.
type TaskInfo struct {
	ID     TaskID            `json:"id"`
	Config map[string]string `json:"config"`
}

// StateInfo is the state of a connector.
type StateInfo struct {
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

// TaskStateInfo is the state of one task.
type TaskStateInfo struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
	// Health (Ferry) is "retrying" while a RUNNING task's operation is
	// failing and being retried, with Since its first failure and
	// LastError its latest error (also in Trace); absent when healthy.
	Health    string     `json:"health,omitempty"`
	Since     *time.Time `json:"since,omitempty"`
	LastError string     `json:"last_error,omitempty"`
	// Lag (Ferry) is the running task's per-partition lag in records when
	// its source reports it (api.LagReporter), as ferry_source_lag_records
	// shows it. Only the worker that runs the task knows it.
	Lag map[string]int64 `json:"lag,omitempty"`
}

// HealthRetrying is TaskStateInfo.Health of a task that retries.
const HealthRetrying = "retrying"

// taskStateOf is the REST view of one task's stored status.
func taskStateOf(st state.Status) TaskStateInfo {
	out := TaskStateInfo{ID: st.Task, State: string(st.State), WorkerID: st.WorkerID, Trace: st.Trace}
	if !st.RetryingSince.IsZero() && st.State == state.StateRunning {
		since := st.RetryingSince.UTC()
		out.Health, out.Since, out.LastError = HealthRetrying, &since, st.Trace
	}
	return out
}

// ConnectorStateInfo is GET /connectors/{name}/status.
type ConnectorStateInfo struct {
	Name      string          `json:"name"`
	Connector StateInfo       `json:"connector"`
	Tasks     []TaskStateInfo `json:"tasks"`
	Type      string          `json:"type"`
}

// ConnectorOffsets is the body of GET/PATCH /connectors/{name}/offsets, in
// Kafka Connect's shape. Ferry partitions are strings and positions are
// source-defined bytes, shown as text:
//
//	{"offsets":[{"partition":{"partition":"task-0"},"offset":{"position":"1234"}}]}
//
// A position that is not valid UTF-8 is shown as {"position_base64": "…"}.
// In PATCH, a null offset deletes the partition's position.
type ConnectorOffsets struct {
	Offsets []PartitionOffset `json:"offsets"`
}

// PartitionOffset is one partition's committed position.
type PartitionOffset struct {
	Partition map[string]string `json:"partition"`
	Offset    map[string]string `json:"offset"`
}

// ClusterController is what GET /cluster asks of a worker in cluster
// mode. A Controller that does not implement it (the standalone worker)
// answers 404.
type ClusterController interface {
	ClusterStatus(ctx context.Context) (ClusterInfo, error)
}

// ClusterLogLevels is what PUT /admin/loggers/{logger}?scope=cluster asks
// of a cluster worker: set logger's level (and its descendants', as
// LogLevels.SetLevel does) on every worker of the cluster, this one
// included before it returns. logger must pass CheckLoggerName. A
// Controller without it (the standalone worker) is its whole cluster:
// the REST API sets the level on the worker itself.
type ClusterLogLevels interface {
	SetClusterLogLevel(ctx context.Context, logger string, level slog.Level) error
}

// ClusterInfo is the answer of GET /cluster: the membership as this
// worker sees it, the leader, and the published assignment.
type ClusterInfo struct {
	WorkerID    string                      `json:"worker_id"`
	Members     []ClusterMember             `json:"members"`
	Leader      string                      `json:"leader"`
	Generation  int64                       `json:"generation"`
	Assignments map[string][]ClusterTaskRef `json:"assignments"`
}

// ClusterMember is one worker of the cluster.
type ClusterMember struct {
	ID         string `json:"id"`
	State      string `json:"state"` // alive, suspect, dead, left
	RESTURL    string `json:"rest_url"`
	GossipAddr string `json:"gossip_addr"`
	Draining   bool   `json:"draining,omitempty"`
	Version    string `json:"version,omitempty"`
}

// ClusterTaskRef is one assigned task and the generation that placed it.
type ClusterTaskRef struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
	Since     int64  `json:"since"`
}

// ErrorBody is the body of every REST error answer: Kafka Connect's ErrorMessage, plus Ferry's field-level list
// for validation failures.
type ErrorBody struct {
	ErrorCode int              `json:"error_code"`
	Message   string           `json:"message"`
	Fields    []FieldErrorBody `json:"fields,omitempty"`
}

// FieldErrorBody is one field's problem in an ErrorBody.
type FieldErrorBody struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}
