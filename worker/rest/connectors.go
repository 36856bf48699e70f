package rest

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
)

// createRequest is the body of POST /connectors (Kafka Connect's
// CreateConnectorRequest).
type createRequest struct {
	Name         string       `json:"name"`
	Config       configValues `json:"config"`
	InitialState string       `json:"initial_state"`
}

// listConnectors answers GET /connectors: names, or with ?expand=status
// and/or ?expand=info a map of name to the expansions. A connector deleted
// while the list is built is left out, as Kafka Connect does.
func (s *Server) listConnectors(c *gin.Context) {
	ctx := c.Request.Context()
	names, err := s.cfg.Controller.Connectors(ctx)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if names == nil {
		names = []string{}
	}
	expand, ok := c.GetQueryArray("expand")
	if !ok {
		writeJSON(c, http.StatusOK, names)
		return
	}
	var withStatus, withInfo bool
	for _, e := range expand {
		for _, part := range strings.Split(e, ",") { // also accept expand=status,info
			switch strings.TrimSpace(part) {
			case "status":
				withStatus = true
			case "info":
				withInfo = true
			}
		}
	}
	out := make(map[string]map[string]any, len(names))
	for _, name := range names {
		entry := map[string]any{}
		if withStatus {
			st, err := s.cfg.Controller.ConnectorStatus(ctx, name)
			if errors.Is(err, worker.ErrNotFound) {
				continue
			} else if err != nil {
				s.writeError(c, err)
				return
			}
			entry["status"] = st
		}
		if withInfo {
			info, err := s.cfg.Controller.ConnectorInfo(ctx, name)
			if errors.Is(err, worker.ErrNotFound) {
				continue
			} else if err != nil {
				s.writeError(c, err)
				return
			}
			entry["info"] = info
		}
		out[name] = entry
	}
	writeJSON(c, http.StatusOK, out)
}

// createConnector answers POST /connectors with 201, a Location header and
// the ConnectorInfo. The name comes from the body's name, else from
// config.name; when both are given they must match.
func (s *Server) createConnector(c *gin.Context) {
	var req createRequest
	if err := readBody(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	config, err := req.Config.strings("config")
	if err != nil {
		s.writeError(c, err)
		return
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = strings.TrimSpace(config["name"])
	}
	if name == "" {
		s.writeError(c, badRequest("connector name is required: set \"name\" (or config \"name\")"))
		return
	}
	initial, err := parseInitialState(req.InitialState)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.create(c, name, config, initial)
}

// createConnectorFlat answers RocketMQ Connect's POST /connectors/{name},
// whose body is the config map itself.
func (s *Server) createConnectorFlat(c *gin.Context) {
	config, err := readConfig(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.create(c, c.Param("name"), config, state.TargetRunning)
}

func (s *Server) create(c *gin.Context, name string, config map[string]string, initial state.TargetState) {
	if err := checkName(name, config); err != nil {
		s.writeError(c, err)
		return
	}
	info, err := s.cfg.Controller.CreateConnector(c.Request.Context(), name, config, initial)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", connectorLocation(name))
	writeJSON(c, http.StatusCreated, info)
}

func connectorLocation(name string) string {
	return "/connectors/" + url.PathEscape(name)
}

// checkName puts name into config["name"], or rejects a config whose name
// differs (Kafka Connect's checkAndPutConnectorConfigName). Names with a
// slash cannot be addressed in a path, so they are refused as Kafka Connect
// does.
func checkName(name string, config map[string]string) error {
	if strings.Contains(name, "/") {
		return badRequest("connector name %q must not contain '/'", name)
	}
	if got, ok := config["name"]; ok && got != name {
		return badRequest("Connector name configuration (%s) doesn't match connector name in the URL (%s)", got, name)
	}
	config["name"] = name
	return nil
}

func parseInitialState(v string) (state.TargetState, error) {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "", string(state.TargetRunning):
		return state.TargetRunning, nil
	case string(state.TargetPaused):
		return state.TargetPaused, nil
	case string(state.TargetStopped):
		return state.TargetStopped, nil
	default:
		return "", badRequest("initial_state must be RUNNING, PAUSED or STOPPED, got %q", v)
	}
}

func (s *Server) getConnector(c *gin.Context) {
	info, err := s.cfg.Controller.ConnectorInfo(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, info)
}

// deleteConnector answers DELETE /connectors/{name} with 204.
func (s *Server) deleteConnector(c *gin.Context) {
	if err := s.cfg.Controller.DeleteConnector(c.Request.Context(), c.Param("name")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) getConnectorConfig(c *gin.Context) {
	info, err := s.cfg.Controller.ConnectorInfo(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	config := info.Config
	if config == nil {
		config = map[string]string{}
	}
	writeJSON(c, http.StatusOK, config)
}

// putConnectorConfig answers PUT /connectors/{name}/config: 201 with a
// Location header when it created the connector, 200 when it updated it.
func (s *Server) putConnectorConfig(c *gin.Context) {
	config, err := readConfig(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	name := c.Param("name")
	if err := checkName(name, config); err != nil {
		s.writeError(c, err)
		return
	}
	info, created, err := s.cfg.Controller.PutConnectorConfig(c.Request.Context(), name, config)
	if err != nil {
		s.writeError(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Header("Location", connectorLocation(name))
	}
	writeJSON(c, status, info)
}

// patchConnectorConfig answers PATCH /connectors/{name}/config: the body's
// keys replace the stored ones, a null value deletes a key.
func (s *Server) patchConnectorConfig(c *gin.Context) {
	var cv configValues
	if err := readBody(c, &cv); err != nil {
		s.writeError(c, err)
		return
	}
	name := c.Param("name")
	if v, ok := cv["name"]; ok && (v == nil || *v != name) {
		got := "null"
		if v != nil {
			got = *v
		}
		s.writeError(c, badRequest("Connector name configuration (%s) doesn't match connector name in the URL (%s)", got, name))
		return
	}
	info, err := s.cfg.Controller.PatchConnectorConfig(c.Request.Context(), name, map[string]*string(cv))
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, info)
}

func (s *Server) connectorStatus(c *gin.Context) {
	st, err := s.cfg.Controller.ConnectorStatus(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, st)
}

func (s *Server) taskConfigs(c *gin.Context) {
	tasks, err := s.cfg.Controller.TaskConfigs(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	if tasks == nil {
		tasks = []worker.TaskInfo{}
	}
	writeJSON(c, http.StatusOK, tasks)
}

// taskID parses the {task} path segment. A segment that is not a task
// number names no resource, so it is a 404 as in Kafka Connect.
func taskID(c *gin.Context) (int, error) {
	raw := c.Param("task")
	id, err := strconv.Atoi(raw)
	if err != nil || id < 0 {
		return 0, notFound("task %q of connector %q: task ids are non-negative integers", raw, c.Param("name"))
	}
	return id, nil
}

func (s *Server) taskStatus(c *gin.Context) {
	id, err := taskID(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	st, err := s.cfg.Controller.TaskStatus(c.Request.Context(), c.Param("name"), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, st)
}

// restartTask answers POST /connectors/{name}/tasks/{task}/restart with 204.
func (s *Server) restartTask(c *gin.Context) {
	id, err := taskID(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.cfg.Controller.RestartTask(c.Request.Context(), c.Param("name"), id); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// restartConnector answers POST /connectors/{name}/restart: 204 without
// body when only the connector restarts (neither flag set), 202 with the
// status otherwise, as Kafka Connect.
func (s *Server) restartConnector(c *gin.Context) {
	includeTasks, err := queryBool(c, "includeTasks", false)
	if err != nil {
		s.writeError(c, err)
		return
	}
	onlyFailed, err := queryBool(c, "onlyFailed", false)
	if err != nil {
		s.writeError(c, err)
		return
	}
	st, err := s.cfg.Controller.RestartConnector(c.Request.Context(), c.Param("name"), includeTasks, onlyFailed)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if !includeTasks && !onlyFailed {
		c.Status(http.StatusNoContent)
		return
	}
	writeJSON(c, http.StatusAccepted, st)
}

// queryBool reads an optional boolean query parameter; an unparsable value
// is a 400 naming the parameter (Kafka Connect silently reads it as false).
func queryBool(c *gin.Context, name string, def bool) (bool, error) {
	raw, ok := c.GetQuery(name)
	if !ok || raw == "" {
		return def, nil
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		return false, badRequest("query parameter %s must be true or false, got %q", name, raw)
	}
	return v, nil
}

// pauseConnector answers PUT /connectors/{name}/pause with 202.
func (s *Server) pauseConnector(c *gin.Context) {
	s.setTarget(c, state.TargetPaused, http.StatusAccepted)
}

// resumeConnector answers PUT /connectors/{name}/resume with 202.
func (s *Server) resumeConnector(c *gin.Context) {
	s.setTarget(c, state.TargetRunning, http.StatusAccepted)
}

// stopConnector answers PUT (Kafka Connect) and POST (RocketMQ Connect)
// /connectors/{name}/stop with 204.
func (s *Server) stopConnector(c *gin.Context) {
	s.setTarget(c, state.TargetStopped, http.StatusNoContent)
}

func (s *Server) setTarget(c *gin.Context, target state.TargetState, status int) {
	if err := s.cfg.Controller.SetTargetState(c.Request.Context(), c.Param("name"), target); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(status)
}
