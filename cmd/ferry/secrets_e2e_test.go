package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/state"
	ferryworker "github.com/ferryhq/ferry/worker"
)

// TestSecretsNeverShown runs `ferry standalone` at debug level with
// connectors whose declared secret fields hold values given literally and
// through ${env:}, ${file:} and ${dir:} references, then looks for every
// secret value in everything the worker lets out: every REST answer (each
// route over each connector, validate with the same configs, preview with
// a chain, refused writes), /metrics, the whole log output and every
// record the dead-letter sinks wrote. None may appear.
//
// The connectors exercise the paths a secret could escape by: rds sinks
// that write to a private MariaDB as users with those passwords and reject
// records (a TINYINT column overflows) into file dead-letter sinks, with
// error context; an rds sink refused by the server (a FAILED task with a
// trace); one whose server is down (a task retrying, with last_error); a
// mysql-cdc source with a wrong password; and, when the test bed's
// RocketMQ runs, a RocketMQ sink with ACL keys, whose client library logs
// through the worker's logger at debug level.
func TestSecretsNeverShown(t *testing.T) {
	ferryBinary(t) // skips with -short
	db := testbed.ScratchMariaDB(t)
	var namesrv string
	t.Run("rocketmq", func(t *testing.T) { namesrv = testbed.RocketMQ(t) })

	// Secrets are random and distinctive; some carry characters a DSN or
	// a URL would have to escape.
	secret := func(kind, extra string) string {
		b := make([]byte, 10)
		_, _ = rand.Read(b)
		return "fs-" + kind + "-" + hex.EncodeToString(b) + extra
	}
	secrets := map[string]string{
		"literal":    secret("lit", "@:/x"),
		"env":        secret("env", "+y"),
		"file":       secret("file", ""),
		"dir":        secret("dir", "@z"),
		"denied":     secret("denied", ""),
		"retry":      secret("retry", ""),
		"cdc":        secret("cdc", ""),
		"rmq-access": secret("rmqak", ""),
		"rmq-secret": secret("rmqsk", ""),
	}

	// The private MariaDB: one user per way of giving its password, one
	// table each; seq is a TINYINT, so events past 127 are refused.
	root, err := sql.Open("mysql", db.RootDSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	mustExec := func(q string) {
		t.Helper()
		if _, err := root.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec("CREATE DATABASE ferry_sec")
	rdsKinds := []string{"literal", "env", "file", "dir"}
	for _, k := range rdsKinds {
		mustExec(fmt.Sprintf("CREATE TABLE ferry_sec.t_%s (seq TINYINT PRIMARY KEY, payload TEXT)", k))
		mustExec(fmt.Sprintf("CREATE USER 'sec_%s'@'%%' IDENTIFIED BY '%s'", k, secrets[k]))
		mustExec(fmt.Sprintf("GRANT ALL ON ferry_sec.* TO 'sec_%s'@'%%'", k))
	}

	dir := t.TempDir()
	props := filepath.Join(dir, "db.properties")
	if err := os.WriteFile(props, []byte("# secrets\npassword="+secrets["file"]+"\nsecret="+secrets["rmq-secret"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secretDir := filepath.Join(dir, "secrets")
	if err := os.MkdirAll(secretDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secretDir, "password"), []byte(secrets["dir"]), 0o600); err != nil {
		t.Fatal(err)
	}
	// The worker process inherits these (the test is not parallel).
	t.Setenv("FERRY_SEC_ENV", secrets["env"])
	t.Setenv("FERRY_SEC_RETRY", secrets["retry"])
	t.Setenv("FERRY_SEC_RMQ_AK", secrets["rmq-access"])

	passwordOf := map[string]string{
		"literal": secrets["literal"],
		"env":     "${env:FERRY_SEC_ENV}",
		"file":    "${file:" + props + ":password}",
		"dir":     "${dir:" + secretDir + ":password}",
	}
	dlq := func(k string) string { return filepath.Join(dir, "dlq-"+k+".jsonl") }
	rdsConfig := func(k string) map[string]any {
		return map[string]any{
			"source": "generator", "source.count": 200, "source.batch.size": 50,
			"sink": "rds", "sink.hostname": db.Host, "sink.port": db.Port, "sink.user": "sec_" + k,
			"sink.password": passwordOf[k], "sink.database": "ferry_sec", "sink.table": "t_" + k,
			"sink.columns":     `{"seq":"$.data.seq","payload":"$.data.payload"}`,
			"errors.tolerance": "all", "errors.log.enable": true,
			"errors.deadletterqueue.sink": "file", "errors.deadletterqueue.sink.path": dlq(k),
			"offset.flush.interval.ms": 100,
		}
	}
	configs := map[string]map[string]any{}
	for _, k := range rdsKinds {
		configs["sec-"+k] = rdsConfig(k)
	}
	denied := rdsConfig("literal")
	denied["sink.password"] = secrets["denied"]
	denied["errors.tolerance"] = "none"
	delete(denied, "errors.deadletterqueue.sink")
	delete(denied, "errors.deadletterqueue.sink.path")
	configs["sec-denied"] = denied
	retry := rdsConfig("env")
	retry["sink.port"] = closedPort(t)
	retry["sink.password"] = "${env:FERRY_SEC_RETRY}"
	retry["sink.connect.timeout"] = "1s"
	retry["errors.retry.timeout"] = -1
	retry["errors.retry.delay.max.ms"] = 200
	configs["sec-retry"] = retry
	configs["sec-cdc"] = map[string]any{
		"source": "mysql-cdc", "source.database.hostname": db.Host, "source.database.port": db.Port,
		"source.database.user": "sec_literal", "source.database.password": secrets["cdc"],
		"source.database.server.id": 54321, "sink": "drop",
		"errors.retry.timeout": 2000, "errors.retry.delay.max.ms": 200,
	}
	if namesrv != "" {
		configs["sec-rmq"] = map[string]any{
			"source": "generator", "source.count": 20, "sink": "rocketmq", "sink.nameservers": namesrv,
			"sink.topic":      "ferry-sec-" + strconv.FormatInt(time.Now().UnixNano(), 36),
			"sink.access.key": "${env:FERRY_SEC_RMQ_AK}", "sink.secret.key": "${file:" + props + ":secret}",
			"sink.send.timeout": "1s", "errors.retry.timeout": 3000, "errors.retry.delay.max.ms": 300,
			"errors.tolerance": "all", "errors.deadletterqueue.sink": "file", "errors.deadletterqueue.sink.path": dlq("rmq"),
		}
	}
	names := make([]string, 0, len(configs))
	for n := range configs {
		names = append(names, n)
	}
	sort.Strings(names)

	addr := freeAddr(t)
	w := startFerry(t, []string{"standalone", "--data-dir", filepath.Join(dir, "data"), "--listen", addr, "--log-level", "debug"}, addr, 30*time.Second)

	// Every answer the test reads, with where it came from.
	type answer struct{ where, body string }
	var answers []answer
	call := func(method, path string, body any, want ...int) []byte {
		t.Helper()
		code, out := w.do(method, path, body)
		answers = append(answers, answer{fmt.Sprintf("%s %s -> %d", method, path, code), string(out)})
		if len(want) > 0 && !containsInt(want, code) {
			t.Errorf("%s %s: %d, want %v: %s", method, path, code, want, out)
		}
		return out
	}

	for _, n := range names {
		call("POST", "/connectors", map[string]any{"name": n, "config": configs[n]}, 201)
	}

	// Wait for each way a secret could be used and fail.
	type taskStatus struct {
		Tasks []struct {
			State     string `json:"state"`
			Trace     string `json:"trace"`
			Health    string `json:"health"`
			LastError string `json:"last_error"`
		} `json:"tasks"`
	}
	status := func(n string) taskStatus {
		_, b := w.do("GET", "/connectors/"+n+"/status", nil)
		var st taskStatus
		_ = json.Unmarshal(b, &st)
		return st
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, k := range rdsKinds {
		eventually("rows and dead letters of sec-"+k, func() bool {
			var rows int
			_ = root.QueryRow("SELECT COUNT(*) FROM ferry_sec.t_" + k).Scan(&rows)
			return rows == 128 && len(readLines(t, dlq(k))) == 72
		})
	}
	eventually("sec-denied FAILED with a trace", func() bool {
		st := status("sec-denied")
		return len(st.Tasks) == 1 && st.Tasks[0].State == "FAILED" && st.Tasks[0].Trace != ""
	})
	eventually("sec-retry retrying with its error", func() bool {
		st := status("sec-retry")
		return len(st.Tasks) == 1 && st.Tasks[0].Health == "retrying" && st.Tasks[0].LastError != ""
	})
	eventually("sec-cdc failing with a trace", func() bool {
		st := status("sec-cdc")
		return len(st.Tasks) == 1 && st.Tasks[0].Trace != ""
	})
	if namesrv != "" {
		time.Sleep(3 * time.Second) // let the RocketMQ client log its start, sends and heartbeats
	}

	// Every route, over every connector.
	for _, p := range []string{"/", "/health", "/cluster", "/metrics", "/connectors", "/connectors?expand=status&expand=info",
		"/connector-plugins", "/connector-plugins?connectorsOnly=false", "/connector-plugins/rds/config",
		"/connector-plugins/rocketmq/config", "/connector-plugins/mysql-cdc/config", "/admin/loggers"} {
		call("GET", p, nil)
	}
	for _, n := range names {
		for _, sub := range []string{"", "/config", "/status", "/tasks", "/tasks/0/status", "/offsets", "/topics"} {
			call("GET", "/connectors/"+n+sub, nil, 200)
		}
		call("GET", "/admin/loggers/"+n, nil, 200)
		cfg := withName(configs[n], n)
		plugin := cfg["sink"].(string)
		if plugin == "drop" {
			plugin = cfg["source"].(string)
		}
		call("PUT", "/connector-plugins/"+plugin+"/config/validate", cfg, 200)
		// A chain previewed with the whole connector config.
		chain := withName(cfg, n)
		chain["transforms"] = "only,shape"
		chain["transforms.only.type"] = "filter"
		chain["transforms.only.pattern"] = `{"type":["order"]}`
		chain["transforms.shape.type"] = "template"
		chain["transforms.shape.form"] = "TEMPLATE"
		chain["transforms.shape.value"] = `{"id":"$.data.id"}`
		chain["transforms.shape.template"] = `{"order":"${id}"}`
		call("POST", "/transforms/preview", map[string]any{"config": chain, "events": []any{
			map[string]any{"specversion": "1.0", "id": "1", "source": "/shop", "type": "order", "data": map[string]any{"id": 7}},
			map[string]any{"specversion": "1.0", "id": "2", "source": "/shop", "type": "other"},
		}}, 200, 400)
		// Refused writes that carry the secrets: an invalid value beside
		// them, a misspelt secret key, a name mismatch.
		bad := withName(configs[n], n)
		bad["tasks.max"] = "many"
		call("PUT", "/connectors/"+n+"/config", bad, 400)
		typo := withName(configs[n], n)
		for k, v := range configs[n] {
			if strings.HasSuffix(k, "password") || strings.HasSuffix(k, ".key") {
				typo[k+"x"] = v
			}
		}
		call("PUT", "/connectors/"+n+"/config", typo, 400)
		call("POST", "/connectors/"+n+"-other", withName(configs[n], n), 400)
		// And good writes: the same config again, and its secrets patched
		// in again (the answers are the connector's info).
		call("PUT", "/connectors/"+n+"/config", withName(configs[n], n), 200)
		patch := map[string]any{}
		for k, v := range configs[n] {
			if strings.HasSuffix(k, "password") || strings.HasSuffix(k, ".key") {
				patch[k] = v
			}
		}
		call("PATCH", "/connectors/"+n+"/config", patch, 200)
	}
	metrics := call("GET", "/metrics", nil, 200)

	// Positive controls: the test reads what it thinks it reads.
	for _, a := range answers {
		if strings.HasPrefix(a.where, "GET /connectors/sec-env/config ") && !strings.Contains(a.body, "${env:FERRY_SEC_ENV}") {
			t.Errorf("%s does not show the reference as written: %s", a.where, a.body)
		}
		if strings.HasPrefix(a.where, "GET /connectors/sec-literal/config ") && !strings.Contains(a.body, "[hidden]") {
			t.Errorf("%s does not hide the literal password: %s", a.where, a.body)
		}
	}
	if !strings.Contains(string(metrics), `connector="sec-literal"`) {
		t.Errorf("/metrics has no series of sec-literal")
	}

	// Stop the worker softly, so its shutdown lines are in the log too.
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatal("ferry did not stop within 30s of SIGTERM")
	}
	logs := w.logText()
	if !strings.Contains(logs, "level=DEBUG") && !strings.Contains(logs, `"level":"DEBUG"`) {
		t.Errorf("the log has no debug lines; was --log-level debug applied?")
	}
	for _, want := range []string{"sec-denied", "sec-retry", "sec-cdc"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log never mentions %s", want)
		}
	}

	// Now look for every secret everywhere.
	texts := map[string]string{"the log": logs}
	for _, a := range answers {
		texts["REST "+a.where] += a.body
	}
	dlqs, _ := filepath.Glob(filepath.Join(dir, "dlq-*.jsonl"))
	for _, f := range dlqs {
		lines := readLines(t, f)
		texts["dead letters "+filepath.Base(f)] = strings.Join(lines, "\n")
		for i, l := range lines {
			var ev map[string]any
			if err := json.Unmarshal([]byte(l), &ev); err != nil || ev["ferryerror"] == nil {
				t.Errorf("%s line %d is not a dead letter with error context: %s", f, i+1, l)
				break
			}
		}
	}
	leaks := 0
	for _, kind := range sortedKeys(secrets) {
		for _, form := range secretForms(secrets[kind]) {
			for _, where := range sortedKeys(texts) {
				text := texts[where]
				if i := strings.Index(text, form); i >= 0 {
					leaks++
					t.Errorf("the %s secret appears in %s: …%s…", kind, where, text[max(0, i-300):min(len(text), i+len(form)+100)])
				}
			}
		}
	}
	t.Logf("searched %d REST answers, %d bytes of log, %d dead-letter files for %d secrets: %d leaks",
		len(answers), len(logs), len(dlqs), len(secrets), leaks)
}

// secretForms are the ways a value may be written out: as is, JSON-escaped
// and URL-escaped.
func secretForms(s string) []string {
	forms := []string{s}
	if b, _ := json.Marshal(s); string(b[1:len(b)-1]) != s {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	if q := url.QueryEscape(s); q != s {
		forms = append(forms, q)
	}
	return forms
}

func withName(c map[string]any, name string) map[string]any {
	out := make(map[string]any, len(c)+1)
	for k, v := range c {
		out[k] = v
	}
	out["name"] = name
	return out
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// closedPort is a local port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	a := freeAddr(t)
	p, err := strconv.Atoi(a[strings.LastIndexByte(a, ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// echoSink fails every record with the error an HTTP client gives for a
// request whose URL carries the sink's token (net/http's *url.Error quotes
// the whole URL), as a sink that authenticates by query parameter would.
type echoSink struct{ token string }

func (echoSink) Open(context.Context) error { return nil }
func (s echoSink) Write(_ context.Context, rs []api.Record) error {
	errs := make(api.RecordErrors, len(rs))
	for i := range rs {
		errs[i] = api.RecordError{Index: i, Err: &url.Error{Op: "Post", URL: "https://hook.example/ingest?token=" + s.token,
			Err: errors.New("401 Unauthorized")}}
	}
	return &errs
}
func (echoSink) Close(context.Context) error { return nil }

// TestDeadLetterErrorContextIsScrubbed checks what the end-to-end test
// cannot provoke with the shipped plugins: a sink whose record errors
// quote its secret (resolved from a reference, or given literally). The
// dead-letter record must keep the error context with the secret hidden,
// as task traces and plugin log lines hide it.
func TestDeadLetterErrorContextIsScrubbed(t *testing.T) {
	lit := "dlq-literal-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ref := "dlq-env-" + strconv.FormatInt(time.Now().UnixNano()+1, 36)
	t.Setenv("FERRY_SEC_DLQ", ref)
	reg := registry()
	reg.Sinks = append(reg.Sinks, api.SinkPlugin{
		Name: "echo",
		Spec: api.Spec{{Name: "token", Type: api.TypeString, Secret: true, Required: true}},
		New:  func(tc api.TaskConfig) (api.Sink, error) { return echoSink{token: tc.Config.String("token")}, nil },
	})
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := ferryworker.New(ferryworker.Config{WorkerID: "dlq", Store: state.NewMemory(), Registry: reg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker Run: %v", err)
		}
	}()
	dir := t.TempDir()
	for name, token := range map[string]string{"dlq-lit": lit, "dlq-ref": "${env:FERRY_SEC_DLQ}"} {
		if _, err := w.CreateConnector(ctx, name, map[string]string{
			"name": name, "source": "generator", "source.count": "5", "sink": "echo", "sink.token": token,
			"errors.tolerance": "all", "errors.deadletterqueue.sink": "file",
			"errors.deadletterqueue.sink.path": filepath.Join(dir, name+".jsonl"),
		}, state.TargetRunning); err != nil {
			t.Fatal(err)
		}
	}
	for name, secret := range map[string]string{"dlq-lit": lit, "dlq-ref": ref} {
		path := filepath.Join(dir, name+".jsonl")
		deadline := time.Now().Add(30 * time.Second)
		for len(readLines(t, path)) < 5 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d dead letters, want 5", name, len(readLines(t, path)))
			}
			time.Sleep(20 * time.Millisecond)
		}
		for i, l := range readLines(t, path) {
			var ev struct {
				Err string `json:"ferryerror"`
			}
			if err := json.Unmarshal([]byte(l), &ev); err != nil || !strings.Contains(ev.Err, "401 Unauthorized") {
				t.Errorf("%s line %d: the error context is missing: %s", name, i+1, l)
			}
			if strings.Contains(l, secret) {
				t.Errorf("%s line %d: the dead letter holds the sink's secret: %s", name, i+1, l)
			}
		}
	}
	logMu.Lock()
	defer logMu.Unlock()
	for _, secret := range []string{lit, ref} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds a secret")
		}
	}
}
