package rest

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/worker"
)

// previewRequest is the body of POST /transforms/preview. Config values
// follow the connector routes' rules (numbers and booleans kept as text).
type previewRequest struct {
	Config configValues      `json:"config"`
	Events []json.RawMessage `json:"events"`
}

// previewTransforms answers POST /transforms/preview: 200 with one result
// per event; 400 for an invalid chain (field errors, as connector
// validation), too many events or a malformed event (naming its index).
func (s *Server) previewTransforms(c *gin.Context) {
	var req previewRequest
	if err := readBody(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	config, err := req.Config.strings("config")
	if err != nil {
		s.writeError(c, err)
		return
	}
	if len(req.Events) > worker.MaxPreviewEvents {
		s.writeError(c, badRequest("a preview takes at most %d events, got %d", worker.MaxPreviewEvents, len(req.Events)))
		return
	}
	events := make([]api.Event, len(req.Events))
	for i, raw := range req.Events {
		if kind := jsonKind(raw); kind != "an object" {
			s.writeError(c, badRequest("events[%d]: must be a CloudEvent in structured JSON (an object), got %s", i, kind))
			return
		}
		if err := events[i].UnmarshalJSON(raw); err != nil {
			s.writeError(c, badRequest("events[%d]: %v", i, err))
			return
		}
	}
	results, err := s.cfg.Controller.PreviewTransforms(c.Request.Context(), config, events)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if results == nil {
		results = []worker.PreviewResult{}
	}
	writeJSON(c, http.StatusOK, worker.PreviewResponse{Results: results})
}

// jsonKind names the kind of a JSON value by its first byte; the value
// itself is never quoted.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}
