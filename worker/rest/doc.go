// Package rest serves Ferry's REST API — Kafka Connect's routes and JSON
// shapes plus Ferry's own (preview, cluster, health, the dashboard at
// /ui/) — over a worker.Controller, and the Prometheus handler at
// /metrics. It knows no herder: everything it asks of a worker goes
// through the Controller contract and the optional interfaces beside it
// (worker.ClusterController, worker.TaskMetricsSource, worker.StatusSource,
// worker.TraceSource).
//
// Files: server.go (Config, New, Run, the route table and the common
// middleware), connectors.go, offsets.go, plugins.go, preview.go and
// cluster.go (the handlers), traces.go (event traces and the live tap, a
// stream that lasts until the request timeout), json.go (bodies and the error mapping: which
// Controller error is which HTTP status), auth.go, tls.go and guard.go (who
// may call, over what, from which origin — docs/security.md),
// metrics.go and metrics_state.go (the Prometheus collectors).
//
// A write that arrives forwarded by another cluster worker is marked in
// its context (worker.Request) so the herder handles it where it lands;
// the caller's Authorization header travels in the same value.
package rest
