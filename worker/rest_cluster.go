package worker

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
)

// ClusterController is what GET /cluster asks of a worker in cluster
// mode. A Controller that does not implement it (the standalone worker)
// answers 404.
type ClusterController interface {
	ClusterStatus(ctx context.Context) (ClusterInfo, error)
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

// clusterRoutes registers GET /cluster and marks requests forwarded by
// another worker, so the cluster worker handles them instead of
// forwarding them again. Called first in routes, so the mark applies to
// every route.
func (s *Server) clusterRoutes(e *gin.Engine) {
	e.Use(func(c *gin.Context) {
		if c.GetHeader(forwardedHeader) != "" {
			c.Request = c.Request.WithContext(forwardedContext(c.Request.Context(), c.Request.Header))
		}
		c.Next()
	})
	e.GET("/cluster", s.clusterStatus)
}

func (s *Server) clusterStatus(c *gin.Context) {
	cc, ok := s.cfg.Controller.(ClusterController)
	if !ok {
		s.writeError(c, notFound("this worker does not run in cluster mode"))
		return
	}
	info, err := cc.ClusterStatus(c.Request.Context())
	if err != nil {
		if errors.Is(err, ErrNotClustered) {
			err = notFound("%s", err.Error())
		}
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, info)
}
