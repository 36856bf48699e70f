// Package deploytest checks the deployment files under deploy/ (the
// Dockerfile, the Kubernetes manifests, the systemd unit, the Grafana
// dashboard and the Prometheus rules) with the parsers of the tools that
// read them, and against the ferry binary's flags and the metrics a real
// worker exports. It holds tests only.
//
// It is a module of its own (github.com/ferryhq/ferry/deploy/deploytest,
// the root module by replace) so that Prometheus, Kubernetes and BuildKit,
// which only these checks need, stay out of the product's go.mod. `make
// test` runs it; by hand:
//
//	make build && cd deploy/deploytest && go test ./...
//
// Checks that need bin/ferry (flag names) or systemd-analyze skip without
// them, and fail instead when CI is set.
package deploytest
