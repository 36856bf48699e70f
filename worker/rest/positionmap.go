package rest

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ferryhq/ferry/worker"
)

// positionMaps answers GET /connectors/{name}/offsets/mapping: the
// position maps of the connector's running tasks whose sinks keep one
// (worker.PositionMapSource).
func (s *Server) positionMaps(c *gin.Context) {
	pm, ok := s.cfg.Controller.(worker.PositionMapSource)
	if !ok {
		s.writeError(c, notFound("this worker does not serve position maps"))
		return
	}
	info, err := pm.PositionMaps(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, info)
}

// translateOffsets answers POST /connectors/{name}/offsets/mapping/translate:
// a consumer's source offsets translated into target offsets. It reads
// and changes nothing; POST only because it takes a body.
func (s *Server) translateOffsets(c *gin.Context) {
	pm, ok := s.cfg.Controller.(worker.PositionMapSource)
	if !ok {
		s.writeError(c, notFound("this worker does not serve position maps"))
		return
	}
	var req worker.TranslateRequest
	if err := readBody(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	info, err := pm.TranslateOffsets(c.Request.Context(), c.Param("name"), req.Offsets)
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, info)
}
