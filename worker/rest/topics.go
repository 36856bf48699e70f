package rest

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// GET /connectors/{name}/topics answers, in Kafka Connect's shape
// ({"<name>": {"topics": [..]}}), with the external resources the
// connector reads and writes: not only Kafka topics but RocketMQ topics,
// MNS queues, SLS logstores, tables, files and URLs, each as
// "<plugin>:<resource>" (kafka:orders, rocketmq:orders, sls:proj/store,
// mysql-cdc:shop.orders, file:/tmp/out.jsonl). Kafka Connect records the
// topics a connector used at run time; Ferry reads them from the config,
// so a templated resource (a sink topic of ${data.kind}) shows as written
// and the list is known before the connector ever ran.

// resourceKeys are the config keys, under a plugin's source. or sink.
// prefix, that name what the plugin reads or writes. The first key of a
// pair qualifies the second (an SLS project its logstore).
var resourceKeys = []struct{ qualifier, key string }{
	{"", "topic"},
	{"", "topics"},
	{"", "topics.regex"},
	{"", "queue"},
	{"project", "logstore"},
	{"", "database.include.list"},
	{"", "table.include.list"},
	{"", "database"},
	{"", "path"},
	{"", "url"},
}

// connectorResources lists the resources of a config, sorted, each once.
func connectorResources(config map[string]string) []string {
	out := []string{}
	for _, side := range []string{"source", "sink"} {
		plugin := config[side]
		if plugin == "" {
			continue
		}
		prefix := side + "."
		for _, rk := range resourceKeys {
			v := strings.TrimSpace(config[prefix+rk.key])
			if v == "" {
				continue
			}
			values := []string{v}
			if strings.HasSuffix(rk.key, "s") || strings.HasSuffix(rk.key, ".list") {
				values = strings.Split(v, ",")
			}
			for _, one := range values {
				one = strings.TrimSpace(one)
				if one == "" {
					continue
				}
				if q := strings.TrimSpace(config[prefix+rk.qualifier]); rk.qualifier != "" && q != "" {
					one = q + "/" + one
				}
				out = append(out, plugin+":"+one)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

type topicsInfo struct {
	Topics []string `json:"topics"`
}

// connectorTopics answers GET /connectors/{name}/topics.
func (s *Server) connectorTopics(c *gin.Context) {
	name := c.Param("name")
	info, err := s.cfg.Controller.ConnectorInfo(c.Request.Context(), name)
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, map[string]topicsInfo{name: {Topics: connectorResources(info.Config)}})
}

// resetConnectorTopics answers PUT /connectors/{name}/topics/reset with
// 200 and no body, as Kafka Connect does. Ferry's list follows the config
// and keeps no history, so there is nothing to forget.
func (s *Server) resetConnectorTopics(c *gin.Context) {
	if _, err := s.cfg.Controller.ConnectorInfo(c.Request.Context(), c.Param("name")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusOK)
}
