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
// REST requests at debug; a worker started afterwards begins with its own
// --log-level (Kafka Connect's KIP-976), and takes the next cluster-scoped
// level like the others.
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
	level := func(w *clusterProc) string {
		code, body := w.do("GET", "/admin/loggers/ferry.worker.rest", nil)
		var got struct {
			Level string `json:"level"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &got) != nil {
			t.Fatalf("%s GET /admin/loggers/ferry.worker.rest: %d %s", w.id, code, body)
		}
		return got.Level
	}
	if got := level(late); got != "INFO" {
		t.Errorf("the late worker took a level set before it started: %s, want its --log-level INFO", got)
	}
	if code, body := late.do("PUT", "/admin/loggers/ferry.worker.rest?scope=cluster", map[string]string{"level": "WARN"}); code != http.StatusNoContent {
		t.Fatalf("PUT scope=cluster through the late worker: %d %s", code, body)
	}
	for _, w := range append(c.workers, late) {
		waitFor(t, w.id+" at WARN", 10*time.Second, func() bool { return level(w) == "WARN" })
	}
}
