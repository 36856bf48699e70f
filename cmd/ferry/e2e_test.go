package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The end-to-end tests build the real binary and drive it over REST.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func ferryBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ferry-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ferry")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is one running ferry process (`ferry standalone` or `ferry worker`).
// mu guards logs, which the process's output keeps appending to.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	mu   *sync.Mutex
	done chan struct{}
	// client and token, when set, are how requests reach a worker that
	// serves TLS or wants a bearer token.
	client *http.Client
	token  string
}

// httpClient is the client requests to w go through.
func (w *proc) httpClient() *http.Client {
	if w.client != nil {
		return w.client
	}
	return http.DefaultClient
}

// logText returns what the process has logged so far.
func (w *proc) logText() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logs.String()
}

func startWorker(t *testing.T, dataDir, addr string, files ...string) *proc {
	t.Helper()
	args := append([]string{"standalone", "--data-dir", dataDir, "--listen", addr, "--log-level", "info"}, files...)
	return startFerry(t, args, addr, 20*time.Second)
}

// startFerry runs the ferry binary with args and waits until the REST
// server at addr answers /health, for at most timeout. The process is
// killed when the test ends, and its logs are shown if the test failed.
func startFerry(t *testing.T, args []string, addr string, timeout time.Duration) *proc {
	t.Helper()
	return startFerryWith(t, args, "http://"+addr, nil, timeout)
}

// startFerryWith is startFerry for a worker at url (https for one that
// serves TLS) reached through client (nil: http.DefaultClient).
func startFerryWith(t *testing.T, args []string, url string, client *http.Client, timeout time.Duration) *proc {
	t.Helper()
	addr := strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://")
	cmd := exec.Command(ferryBinary(t), args...)
	w := &proc{t: t, cmd: cmd, url: url, logs: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{}), client: client}
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { w.mu.Lock(); defer w.mu.Unlock(); return w.logs.Write(p) })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(w.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-w.done
		if t.Failed() {
			t.Logf("ferry logs (%s):\n%s", addr, tail(w.logText(), 6000))
		}
	})
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := w.httpClient().Get(w.url + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return w
			}
		}
		select {
		case <-w.done:
			t.Fatalf("ferry exited during start-up:\n%s", tail(w.logText(), 4000))
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("ferry did not become healthy within %v", timeout)
	return nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (w *proc) do(method, path string, body any) (int, []byte) {
	w.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			w.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.url+path, r)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	resp, err := w.httpClient().Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (w *proc) connectorState(name string) (string, []string) {
	code, body := w.do("GET", "/connectors/"+name+"/status", nil)
	if code != http.StatusOK {
		return fmt.Sprintf("HTTP %d", code), nil
	}
	var st struct {
		Connector struct{ State string } `json:"connector"`
		Tasks     []struct{ State, Trace string }
	}
	_ = json.Unmarshal(body, &st)
	var tasks []string
	for _, tk := range st.Tasks {
		tasks = append(tasks, tk.State+" "+tk.Trace)
	}
	return st.Connector.State, tasks
}

// countSeqs reads a file sink's JSON Lines and counts each data.seq. Lines
// that do not parse are counted separately (a torn last line after a kill).
func countSeqs(t *testing.T, path string) (seen map[int]int, bad int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return map[int]int{}, 0
		}
		t.Fatal(err)
	}
	defer f.Close()
	seen = map[int]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev struct {
			Data struct {
				Seq *int `json:"seq"`
			} `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Data.Seq == nil {
			bad++
			continue
		}
		seen[*ev.Data.Seq]++
	}
	return seen, bad
}

func TestEndToEndCrashSafety(t *testing.T) {
	const total = 200000
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	out := filepath.Join(dir, "out.jsonl")
	addr := freeAddr(t)

	w := startWorker(t, dataDir, addr)
	code, body := w.do("POST", "/connectors", map[string]any{
		"name": "crash",
		"config": map[string]string{
			"source": "generator", "source.count": fmt.Sprint(total), "source.rate": "40000",
			"source.payload.bytes": "200",
			"sink":                 "file", "sink.path": out,
			"offset.flush.interval.ms": "500",
		},
	})
	if code != http.StatusCreated {
		t.Fatalf("create: HTTP %d %s", code, body)
	}
	// Kill the worker part way, mid-stream.
	deadline := time.Now().Add(30 * time.Second)
	for {
		seen, _ := countSeqs(t, out)
		if len(seen) > total/4 {
			break
		}
		if time.Now().After(deadline) {
			st, tasks := w.connectorState("crash")
			t.Fatalf("only %d events after 30s; state %s %v", len(seen), st, tasks)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-w.done
	before, _ := countSeqs(t, out)
	t.Logf("killed with SIGKILL after %d distinct events", len(before))

	// Same data dir: the connector comes back from the store and resumes.
	w2 := startWorker(t, dataDir, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		seen, _ := countSeqs(t, out)
		if len(seen) >= total {
			break
		}
		if ctx.Err() != nil {
			st, tasks := w2.connectorState("crash")
			t.Fatalf("after restart only %d of %d distinct events; state %s %v", len(seen), total, st, tasks)
		}
		time.Sleep(200 * time.Millisecond)
	}
	seen, bad := countSeqs(t, out)
	dups := 0
	for seq := 0; seq < total; seq++ {
		n := seen[seq]
		if n == 0 {
			t.Fatalf("seq %d missing", seq)
		}
		dups += n - 1
	}
	if len(seen) != total {
		t.Errorf("unexpected seqs: %d distinct, want %d", len(seen), total)
	}
	t.Logf("all %d seqs present; %d duplicates (replayed since the last commit), %d torn lines", total, dups, bad)
	// Duplicates are bounded by what was read since the last commit: at
	// most the in-flight budget plus a commit interval of records.
	if dups > 16384+40000 {
		t.Errorf("%d duplicates exceed the bound of one commit interval plus the in-flight budget", dups)
	}
	if bad > 1 {
		t.Errorf("%d unparsable lines; at most one torn line is expected from a kill", bad)
	}
	// Finally the status reports the finished source.
	for ctx.Err() == nil {
		if st, tasks := w2.connectorState("crash"); len(tasks) == 1 && strings.HasPrefix(tasks[0], "FINISHED") {
			return
		} else if len(tasks) == 1 && strings.HasPrefix(tasks[0], "FAILED") {
			t.Fatalf("task failed: %s %v", st, tasks)
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, tasks := w2.connectorState("crash")
	t.Errorf("task never reported FINISHED: %s %v", st, tasks)
}

// TestIdleRSS measures the resident memory of an idle standalone worker
// (no connectors), the figure docs/benchmarks.md reports. It fails only on a
// gross regression; the aim is under 40 MB.
func TestIdleRSS(t *testing.T) {
	if runtimeGOOS() != "linux" {
		t.Skip("reads /proc")
	}
	dir := t.TempDir()
	w := startWorker(t, filepath.Join(dir, "data"), freeAddr(t))
	time.Sleep(2 * time.Second)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	var kb int
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), "%d", &kb)
		}
	}
	if kb == 0 {
		t.Fatal("no VmRSS in /proc status")
	}
	t.Logf("idle worker RSS: %.1f MB", float64(kb)/1024)
	if kb > 80*1024 {
		t.Errorf("idle RSS %d kB exceeds the 80 MB regression guard", kb)
	}
}
