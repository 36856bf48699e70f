package client

import (
	"context"
	"net/http"

	"github.com/ferryhq/ferry/worker"
)

// ClusterInfo is GET /cluster's answer (cluster mode only).
type (
	ClusterInfo    = worker.ClusterInfo
	ClusterMember  = worker.ClusterMember
	ClusterTaskRef = worker.ClusterTaskRef
)

// Cluster returns the cluster as the worker sees it: members, leader,
// generation and assignments. A standalone worker answers 404.
func (c *Client) Cluster(ctx context.Context) (ClusterInfo, error) {
	var info ClusterInfo
	err := c.do(ctx, http.MethodGet, "/cluster", nil, nil, &info)
	return info, err
}
