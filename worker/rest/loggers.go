package rest

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ferryhq/ferry/worker"
)

// /admin/loggers reads and sets log levels at run time, as Kafka Connect's
// LoggingResource does, over Config.Loggers (worker.LogLevels explains
// the logger names: root, ferry.<package>, a connector's name).

// loggerLevel is one logger in GET /admin/loggers and GET
// /admin/loggers/{logger}; last_modified is in milliseconds since the
// epoch, null until the API set the level.
type loggerLevel struct {
	Level        string `json:"level"`
	LastModified *int64 `json:"last_modified"`
}

// levelRequest is the body of PUT /admin/loggers/{logger}.
type levelRequest struct {
	Level *string `json:"level"`
}

func toLoggerLevel(l worker.LoggerLevel) loggerLevel {
	out := loggerLevel{Level: worker.LevelName(l.Level)}
	if l.LastModified != nil {
		ms := l.LastModified.UnixMilli()
		out.LastModified = &ms
	}
	return out
}

// levels is Config.Loggers, or a 404 when the worker does not manage its
// log levels through the API.
func (s *Server) levels(c *gin.Context) *worker.LogLevels {
	if s.cfg.Loggers == nil {
		s.writeError(c, notFound("this worker does not change log levels at run time"))
		return nil
	}
	return s.cfg.Loggers
}

// listLoggers answers GET /admin/loggers: root and every logger whose
// level was set.
func (s *Server) listLoggers(c *gin.Context) {
	levels := s.levels(c)
	if levels == nil {
		return
	}
	out := map[string]loggerLevel{}
	for name, l := range levels.Loggers() {
		out[name] = toLoggerLevel(l)
	}
	writeJSON(c, http.StatusOK, out)
}

// knownLogger reports whether name is a logger this worker has: root, a
// ferry package logger, one set before, or a connector.
func (s *Server) knownLogger(c *gin.Context, levels *worker.LogLevels, name string) error {
	if len(name) > worker.MaxLoggerName {
		return notFound("Logger %.64s… not found: names are at most %d bytes", name, worker.MaxLoggerName)
	}
	if name == worker.RootLogger || worker.IsPackageLogger(name) {
		return nil
	}
	if _, set := levels.Loggers()[name]; set {
		return nil
	}
	_, err := s.cfg.Controller.ConnectorInfo(c.Request.Context(), name)
	if errors.Is(err, worker.ErrNotFound) {
		return notFound("Logger %s not found: loggers are root, ferry.<package> (ferry.runtime, ferry.connectors.mysql) and connector names", name)
	}
	return err
}

// getLogger answers GET /admin/loggers/{logger} with the level in force
// for it (its own or inherited).
func (s *Server) getLogger(c *gin.Context) {
	levels := s.levels(c)
	if levels == nil {
		return
	}
	name := c.Param("logger")
	if err := s.knownLogger(c, levels, name); err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, toLoggerLevel(levels.Level(name)))
}

// setLogger answers PUT /admin/loggers/{logger} {"level": "DEBUG"}: 200
// with the loggers it changed, or with ?scope=cluster 204 once the level
// is recorded for every worker of the cluster and applied on this one, as
// Kafka Connect does.
func (s *Server) setLogger(c *gin.Context) {
	levels := s.levels(c)
	if levels == nil {
		return
	}
	name := c.Param("logger")
	scope := c.DefaultQuery("scope", "worker")
	var cluster worker.ClusterLogLevels
	switch scope {
	case "worker":
	case "cluster":
		var ok bool
		cluster, ok = s.cfg.Controller.(worker.ClusterLogLevels)
		if _, clustered := s.cfg.Controller.(worker.ClusterController); clustered && !ok {
			s.writeError(c, badRequest("scope=cluster is not supported by this cluster worker: set the level on each worker (scope=worker)"))
			return
		}
		// Without ClusterLogLevels, a standalone worker is its whole
		// cluster. The level travels to every worker: a name no logger
		// can have is a mistake, not a logger yet unknown here.
		if err := worker.CheckLoggerName(name); err != nil {
			s.writeError(c, err)
			return
		}
	default:
		s.writeError(c, badRequest("scope must be worker or cluster, got %q", scope))
		return
	}
	var req levelRequest
	if err := readBody(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	if req.Level == nil {
		s.writeError(c, badRequest(`the level is required: {"level": "DEBUG"}`))
		return
	}
	level, err := worker.ParseLevel(*req.Level)
	if err != nil {
		s.writeError(c, badRequest("%v", err))
		return
	}
	if err := s.knownLogger(c, levels, name); err != nil {
		s.writeError(c, err)
		return
	}
	if cluster != nil {
		if err := cluster.SetClusterLogLevel(c.Request.Context(), name, level); err != nil {
			s.writeError(c, err)
			return
		}
		s.log.Info("cluster log level set through the REST API", "logger", name, "level", worker.LevelName(level))
		c.Status(http.StatusNoContent)
		return
	}
	changed := levels.SetLevel(name, level)
	s.log.Info("log level set through the REST API", "logger", name, "level", worker.LevelName(level), "changed", len(changed))
	if scope == "cluster" {
		c.Status(http.StatusNoContent)
		return
	}
	writeJSON(c, http.StatusOK, changed)
}
