package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClusterLogLevelsAcrossWorkers: `ferry worker` processes over the
// test bed's RocketMQ share a level set with ?scope=cluster through the
// config topic: one PUT to the first worker makes the second log its
// REST requests at debug, and a worker started afterwards applies it too.
func TestClusterLogLevelsAcrossWorkers(t *testing.T) {
	c := startTestCluster(t, 2, func(int) []string { return nil })
	const debugLine = `level=DEBUG msg="REST request" method=GET path=/connectors`
	for _, w := range c.workers {
		w.do("GET", "/connectors", nil)
		if strings.Contains(w.logText(), debugLine) {
			t.Fatalf("%s logs requests at debug under --log-level info", w.id)
		}
	}
	if code, body := c.workers[0].do("PUT", "/admin/loggers/ferry.worker.rest?scope=cluster", map[string]string{"level": "DEBUG"}); code != http.StatusNoContent {
		t.Fatalf("PUT scope=cluster: %d %s", code, body)
	}
	took := waitFor(t, "the second worker logging requests at debug", 10*time.Second, func() bool {
		c.workers[1].do("GET", "/connectors", nil)
		return strings.Contains(c.workers[1].logText(), debugLine)
	})
	t.Logf("the second worker applied the level %v after the PUT's answer", took)
	if n := strings.Count(c.workers[1].logText(), "level=DEBUG msg="); n != strings.Count(c.workers[1].logText(), `level=DEBUG msg="REST request"`) {
		t.Errorf("debug lines from loggers other than ferry.worker.rest on the second worker:\n%s", c.workers[1].logText())
	}

	late := startClusterWorker(t, c.name, c.nameSrv, filepath.Join(c.dir, "late"), freeAddr(t), freeAddr(t), []string{c.seed})
	waitFor(t, "the late worker logging requests at debug", 20*time.Second, func() bool {
		late.do("GET", "/connectors", nil)
		return strings.Contains(late.logText(), debugLine)
	})
	code, body := late.do("GET", "/admin/loggers/ferry.worker.rest", nil)
	var got struct {
		Level string `json:"level"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &got) != nil || got.Level != "DEBUG" {
		t.Errorf("the late worker's GET /admin/loggers/ferry.worker.rest: %d %s", code, body)
	}
}
