package rest

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ferryhq/ferry/worker"
)

// listPlugins answers GET /connector-plugins: source and sink plugins, and
// with ?connectorsOnly=false every plugin (transforms too), as Kafka
// Connect.
func (s *Server) listPlugins(c *gin.Context) {
	connectorsOnly, err := queryBool(c, "connectorsOnly", true)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := []worker.PluginInfo{}
	for _, p := range s.cfg.Controller.Plugins() {
		if connectorsOnly && p.Type != "source" && p.Type != "sink" {
			continue
		}
		out = append(out, p)
	}
	writeJSON(c, http.StatusOK, out)
}

// pluginConfig answers GET /connector-plugins/{plugin}/config with the
// plugin's declared fields.
func (s *Server) pluginConfig(c *gin.Context) {
	keys, err := s.cfg.Controller.PluginConfig(c.Param("plugin"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	if keys == nil {
		keys = []worker.ConfigKeyInfo{}
	}
	writeJSON(c, http.StatusOK, keys)
}

// validateConfig answers PUT /connector-plugins/{plugin}/config/validate:
// 200 with every field's value and errors, even when the config is
// invalid; error_count says how many problems there are.
func (s *Server) validateConfig(c *gin.Context) {
	config, err := readConfig(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	infos, err := s.cfg.Controller.Validate(c.Request.Context(), c.Param("plugin"), config)
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, infos)
}
