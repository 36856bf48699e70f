package client

import "github.com/ferryhq/ferry/worker"

// The payload types are worker's DTOs, re-exported so callers need not
// import package worker (whose name clashes with local identifiers in
// tests and commands).
type (
	ConnectorInfo      = worker.ConnectorInfo
	ConnectorStateInfo = worker.ConnectorStateInfo
	TaskStateInfo      = worker.TaskStateInfo
	TaskInfo           = worker.TaskInfo
	TaskID             = worker.TaskID
	StateInfo          = worker.StateInfo
	ConnectorOffsets   = worker.ConnectorOffsets
	PartitionOffset    = worker.PartitionOffset
	PluginInfo         = worker.PluginInfo
	ConfigKeyInfo      = worker.ConfigKeyInfo
	ConfigInfos        = worker.ConfigInfos
	ConfigInfo         = worker.ConfigInfo
	ConfigValueInfo    = worker.ConfigValueInfo
	PreviewRequest     = worker.PreviewRequest
	PreviewResponse    = worker.PreviewResponse
	PreviewResult      = worker.PreviewResult
)
