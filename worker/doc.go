// Package worker is a Ferry node: it validates connector configs against
// the plugins' specs, supervises connectors and their tasks (target states,
// automatic restart with backoff, status), and serves the REST API. In
// standalone mode it keeps everything in an embedded store; in cluster mode
// it also joins the membership and follows the leader's assignment.
package worker
