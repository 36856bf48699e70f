package rest

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ferryhq/ferry/worker"
)

// clusterRoutes registers GET /cluster and marks requests forwarded by
// another worker, so the cluster worker handles them instead of
// forwarding them again. Called first in routes, so the mark applies to
// every route.
func (s *Server) clusterRoutes(e *gin.Engine) {
	e.Use(func(c *gin.Context) {
		if c.GetHeader(worker.HeaderForwardedBy) != "" {
			ctx := c.Request.Context()
			r := worker.ForwardedRequest(worker.RequestOf(ctx), c.Request.Header)
			c.Request = c.Request.WithContext(worker.WithRequest(ctx, r))
		}
		c.Next()
	})
	e.GET("/cluster", s.clusterStatus)
}

func (s *Server) clusterStatus(c *gin.Context) {
	cc, ok := s.cfg.Controller.(worker.ClusterController)
	if !ok {
		s.writeError(c, notFound("this worker does not run in cluster mode"))
		return
	}
	info, err := cc.ClusterStatus(c.Request.Context())
	if err != nil {
		if errors.Is(err, worker.ErrNotClustered) {
			err = notFound("%s", err.Error())
		}
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, info)
}
