package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStandaloneLogLevelsAtRunTime: `ferry standalone` serves
// /admin/loggers over the process's own logger, so a level set there
// changes what the worker logs, at once.
func TestStandaloneLogLevelsAtRunTime(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	w := startWorker(t, t.TempDir(), addr)
	get := func(path string) {
		t.Helper()
		resp, err := http.Get(w.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get("/connectors")
	time.Sleep(100 * time.Millisecond)
	if strings.Contains(w.logText(), `msg="REST request"`) {
		t.Fatalf("request logged at debug under --log-level info:\n%s", w.logText())
	}
	req, _ := http.NewRequest(http.MethodPut, w.url+"/admin/loggers/ferry.worker.rest", strings.NewReader(`{"level":"DEBUG"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /admin/loggers: %d", resp.StatusCode)
	}
	get("/connectors?after=level")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(w.logText(), `msg="REST request" method=GET path=/connectors`) {
		if time.Now().After(deadline) {
			t.Fatalf("no debug line after the level was set:\n%s", w.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Other packages stay at info.
	if logs := w.logText(); strings.Count(logs, "level=DEBUG msg=") != strings.Count(logs, `level=DEBUG msg="REST request"`) {
		t.Errorf("debug lines from other loggers:\n%s", w.logText())
	}
}
