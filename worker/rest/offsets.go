package rest

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ferryhq/ferry/worker"
)

// offsetsRequest is the body of PATCH /connectors/{name}/offsets.
type offsetsRequest struct {
	Offsets []offsetEntry `json:"offsets"`
}

type offsetEntry struct {
	Partition offsetValues `json:"partition"`
	Offset    offsetValues `json:"offset"` // null deletes the partition's position
}

// Kafka Connect's answers to offset changes, kept word for word because
// scripts match them.
const (
	msgOffsetsAltered = "The offsets for this connector have been altered successfully"
	msgOffsetsReset   = "The offsets for this connector have been reset successfully"
)

func (s *Server) getOffsets(c *gin.Context) {
	offs, err := s.cfg.Controller.Offsets(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	if offs.Offsets == nil {
		offs.Offsets = []worker.PartitionOffset{}
	}
	writeJSON(c, http.StatusOK, offs)
}

// alterOffsets answers PATCH /connectors/{name}/offsets with 200 and a
// message; the connector must be STOPPED (the Controller checks).
func (s *Server) alterOffsets(c *gin.Context) {
	var req offsetsRequest
	if err := readBody(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	offs, err := req.toOffsets()
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.cfg.Controller.AlterOffsets(c.Request.Context(), c.Param("name"), offs); err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, messageBody{Message: msgOffsetsAltered})
}

func (r offsetsRequest) toOffsets() (worker.ConnectorOffsets, error) {
	if len(r.Offsets) == 0 {
		return worker.ConnectorOffsets{}, badRequest("Partitions / offsets need to be provided for an alter offsets request")
	}
	out := worker.ConnectorOffsets{Offsets: make([]worker.PartitionOffset, len(r.Offsets))}
	for i, e := range r.Offsets {
		where := fmt.Sprintf("offsets[%d]", i)
		if len(e.Partition) == 0 {
			return worker.ConnectorOffsets{}, badRequest("%s: partition is required", where)
		}
		part, err := nonNull(e.Partition, where+".partition")
		if err != nil {
			return worker.ConnectorOffsets{}, err
		}
		var off map[string]string
		if e.Offset != nil {
			if off, err = nonNull(e.Offset, where+".offset"); err != nil {
				return worker.ConnectorOffsets{}, err
			}
		}
		out.Offsets[i] = worker.PartitionOffset{Partition: part, Offset: off}
	}
	return out, nil
}

// resetOffsets answers DELETE /connectors/{name}/offsets with 200 and a
// message; the connector must be STOPPED (the Controller checks).
func (s *Server) resetOffsets(c *gin.Context) {
	if err := s.cfg.Controller.ResetOffsets(c.Request.Context(), c.Param("name")); err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, messageBody{Message: msgOffsetsReset})
}
