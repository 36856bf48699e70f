// Package worker is a Ferry node: the Controller contract that the REST
// API (worker/rest), the CLI and the typed client (internal/client) speak,
// with its payload types and errors, and the engine and the two herders
// that implement it — standalone (one process, an embedded store) and
// cluster (gossip membership, a leader, the RocketMQ-backed store).
//
// # Files
//
// The face, what other packages import:
//
//	controller.go   Controller, ClusterController and the payload types
//	request.go      Request: what a call's context says (forwarded, request id, caller)
//	errors.go       the error kinds (ErrNotFound …) and KindError, UnansweredError
//	metrics.go      TaskMetricsSource, ConnectorMetricsSource, ClusterMetricsSource,
//	                StatusSource: what /metrics reads
//
// The engine, which both herders use only through its methods:
//
//	engine.go       Config, the engine type, its store writes and catalogue
//	supervisor.go   task slots: plan, launch, supervise (restart backoff), runOnce, stop
//	config.go       validating a connector config: the envelope, plugins, transforms
//	registry.go     the plugins a worker can run
//	secrets.go      ${env:}/${file:}/${dir:} references, their allow-list, scrubbing
//	health.go       a running task's retry health, written into its status
//	preview.go      running a transform chain over sample events
//	offsets.go      offsets as the REST API shows them
//
// The herders:
//
//	standalone.go, standalone_controller.go     keeps and applies its connectors
//	distributed.go, distributed_controller.go,  follows the leader's assignment,
//	distributed_store.go                        publishes task sets, forwards writes
//	distributed_loglevels.go                    log levels set for the whole cluster
//
// # The life of a connector
//
// A create reaches Controller.CreateConnector. In cluster mode a follower
// forwards it to the leader (Distributed.onLeader, through
// DistributedConfig.Peer) with a request id, so a replay after a lost
// answer is applied once. The engine validates the config (config.go) and
// stores it. The standalone herder then starts it at once (start: plan →
// one task slot per task → engine.launch); the cluster leader publishes
// its task set (publishPlan) and the assignment, and every worker's
// reconcile pass launches the slots assigned to it under the assignment's
// generation. A slot's supervisor (engine.supervise) resolves secrets,
// builds the plugins and runs a runtime.Task (runOnce), records RUNNING,
// RESTARTING (with backoff), FAILED or FINISHED, and commits offsets under
// its generation, so a task moved elsewhere fences this one. Pause, stop,
// config changes and delete stop slots softly (offsets committed) before
// anything else happens to them.
//
// # Locks
//
// Standalone: opMu (every change, held while tasks stop) before mu (its
// connectors). Distributed: opMu (leader store writes) and loopMu
// (reconcile passes) are never held together; mu (what REST reads) is
// taken inside loopMu, and so is lvMu (applying cluster-scoped log
// levels), a leaf. Supervisor goroutines take none of them: they touch
// their slot's atomics and the Store. docs/locking.md lists every lock.
package worker
