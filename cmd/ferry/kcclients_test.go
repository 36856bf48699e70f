package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/client"
)

// Kafka Connect's own clients, from PyPI, drive a real worker unchanged.
// deploy/testbed/testbed.sh up (or `testbed.sh kc-clients`) installs each
// in a venv of its own under $FERRY_TESTBED_KC_CLIENTS, default
// ${FERRY_TESTBED_CACHE:-~/.cache/ferry-testbed}/kc-clients.

// kcClient returns the venv of one Kafka Connect Python client, skipping
// the test (failing it under CI=true) when it is not installed.
func kcClient(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("FERRY_TESTBED_KC_CLIENTS")
	if dir == "" {
		cache := os.Getenv("FERRY_TESTBED_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "ferry-testbed")
		}
		dir = filepath.Join(cache, "kc-clients")
	}
	venv := filepath.Join(dir, name)
	if _, err := os.Stat(filepath.Join(venv, ".installed")); err != nil {
		msg := "the Kafka Connect Python client " + name + " is not installed in " + venv +
			" (it needs python3 with venv and PyPI): run deploy/testbed/testbed.sh up, or testbed.sh kc-clients"
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return venv
}

// TestKafkaConnectPythonLibrary runs testdata/kcclients/library.py, which
// uses kafka-connect-py's KafkaConnect class for every call it has: cluster
// info, list (with expand, pattern and state filters), create (with
// Ferry's keys and with connector.class), get, config, status, tasks,
// update, pause/resume (one and all), stop, restart (204 and with tasks),
// task restart, topics and their reset, plugins, validate, delete; offsets
// and loggers, which it lacks, through requests.
func TestKafkaConnectPythonLibrary(t *testing.T) {
	t.Parallel()
	venv := kcClient(t, "kafka-connect-py")
	url := startInProcessWorker(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(venv, "bin", "python"), filepath.Join("testdata", "kcclients", "library.py"), url)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "all steps passed") {
		t.Fatalf("library.py: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestKafkaConnectPythonCLI drives the worker with kafka-connect-cli's
// `kafka-connect` command: health check, list, create (Ferry's keys and
// connector.class), get, configuration, update, pause/resume (one and
// all), restart, task list and restart, delete (one and all).
func TestKafkaConnectPythonCLI(t *testing.T) {
	t.Parallel()
	venv := kcClient(t, "kafka-connect-cli")
	url := startInProcessWorker(t, t.TempDir())
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	kc := func(wantCode int, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		full := append(args[:2:2], append([]string{"--url", url}, args[2:]...)...)
		if args[0] == "health-check" {
			full = append([]string{args[0], "--url", url}, args[1:]...)
		}
		out, err := exec.CommandContext(ctx, filepath.Join(venv, "bin", "kafka_connect"), full...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantCode {
			t.Fatalf("kafka_connect %s: exit %d, want %d\n%s", strings.Join(args, " "), code, wantCode, out)
		}
		return string(out)
	}
	decode := func(out string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("not JSON (%v):\n%s", err, out)
		}
	}
	type state struct {
		Connector   string `json:"connector"`
		State       string `json:"state"`
		FailedTasks []int  `json:"failedTasks"`
	}

	var list []state
	decode(kc(0, "connector", "list"), &list)
	if len(list) != 0 {
		t.Fatalf("list of an empty worker: %+v", list)
	}
	var created struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
	}
	decode(kc(0, "connector", "create", "--name", "cli-orders", "--configuration",
		`{"source": "generator", "source.rate": "20", "sink": "drop", "tasks.max": "2"}`), &created)
	if created.Name != "cli-orders" || created.Config["connector.class"] == "" {
		t.Errorf("create answered %+v (no connector.class)", created)
	}
	decode(kc(0, "connector", "create", "--name", "cli-alias", "--configuration",
		`{"connector.class": "generator", "source.rate": "5", "sink": "drop"}`), &created)
	if created.Config["connector.class"] == "" || created.Config["source"] != "" && created.Config["source"] != "generator" {
		t.Errorf("create with connector.class answered %+v", created)
	}
	if out := kc(1, "connector", "create", "--name", "cli-orders", "--configuration", `{"source": "generator", "sink": "drop"}`); !strings.Contains(out, "already exists") {
		t.Errorf("second create: %s", out)
	}
	kc(0, "connector", "create", "--name", "cli-orders", "--if-not-exists", "--configuration", `{"source": "generator", "sink": "drop"}`)
	waitState(t, c, "cli-orders", "RUNNING")
	waitState(t, c, "cli-alias", "RUNNING")
	waitTasks := func(name, want string, n int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			var tasks []struct {
				TaskID int    `json:"taskId"`
				State  string `json:"state"`
			}
			decode(kc(0, "task", "list", "--connector", name), &tasks)
			ok := len(tasks) == n
			for _, tk := range tasks {
				ok = ok && tk.State == want
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("tasks of %s: %+v, want %d %s", name, tasks, n, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitTasks("cli-orders", "RUNNING", 2)

	decode(kc(0, "connector", "list"), &list)
	if len(list) != 2 || list[0].State != "RUNNING" || list[1].State != "RUNNING" {
		t.Errorf("list: %+v", list)
	}
	var one state
	decode(kc(0, "connector", "get", "--name", "cli-orders"), &one)
	if one.State != "RUNNING" || len(one.FailedTasks) != 0 {
		t.Errorf("get: %+v", one)
	}
	var cfg map[string]string
	decode(kc(0, "connector", "configuration", "--name", "cli-orders"), &cfg)
	if cfg["source.rate"] != "20" || cfg["connector.class"] == "" {
		t.Errorf("configuration: %v", cfg)
	}
	cfg["tasks.max"] = "1"
	delete(cfg, "connector.class")
	b, _ := json.Marshal(cfg)
	kc(0, "connector", "update", "--name", "cli-orders", "--configuration", string(b))
	waitTasks("cli-orders", "RUNNING", 1)

	kc(0, "connector", "pause", "--name", "cli-orders")
	waitState(t, c, "cli-orders", "PAUSED")
	waitTasks("cli-orders", "PAUSED", 1)
	decode(kc(0, "connector", "get", "--name", "cli-orders"), &one)
	if one.State != "PAUSED" {
		t.Errorf("get while paused: %+v", one)
	}
	if out := kc(0, "health-check", "--verbose"); !strings.Contains(out, "cli-orders in state PAUSED") {
		t.Errorf("health-check: %s", out)
	}
	kc(0, "connector", "resume", "--name", "cli-orders")
	waitTasks("cli-orders", "RUNNING", 1)
	kc(0, "connector", "pause-all", "--name", "cli-.*")
	waitTasks("cli-alias", "PAUSED", 1)
	kc(0, "connector", "resume-all", "--name", "cli-.*")
	waitTasks("cli-alias", "RUNNING", 1)

	kc(0, "connector", "restart", "--name", "cli-orders")
	kc(0, "task", "restart", "--connector", "cli-orders", "--task", "0")
	waitTasks("cli-orders", "RUNNING", 1)

	kc(0, "connector", "delete", "--name", "cli-orders")
	if _, err := c.Config(context.Background(), "cli-orders"); !client.IsNotFound(err) {
		t.Errorf("cli-orders after delete: %v", err)
	}
	if out := kc(1, "connector", "get", "--name", "cli-orders"); !strings.Contains(out, "404") {
		t.Errorf("get of a deleted connector: %s", out)
	}
	kc(0, "connector", "delete-all", "--name", "cli-.*")
	decode(kc(0, "connector", "list"), &list)
	if len(list) != 0 {
		t.Errorf("list after delete-all: %+v", list)
	}
}
