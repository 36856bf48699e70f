package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The end-to-end tests build the real binary and drive it over REST. This
// file is the one home of what they share to do so: building the binary,
// starting, requesting, waiting for and killing `ferry` processes, and
// reading their CPU and memory from /proc.

// builds are the binaries built so far, by their build tags.
var (
	buildMu sync.Mutex
	builds  = map[string]built{}
)

type built struct {
	path string
	err  error
}

func ferryBinary(t *testing.T) string {
	t.Helper()
	return ferryBinaryTagged(t, "")
}

// ferryBinaryTagged is ferryBinary built with build tags (space
// separated, such as the ferry_no_<connector> tags of plugins.go), built
// once per set of tags.
func ferryBinaryTagged(t *testing.T, tags string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := builds[tags]; ok {
		if b.err != nil {
			t.Fatal(b.err)
		}
		return b.path
	}
	var b built
	defer func() { builds[tags] = b }()
	dir, err := os.MkdirTemp("", "ferry-e2e-bin")
	if err != nil {
		b.err = err
		t.Fatal(err)
	}
	b.path = filepath.Join(dir, "ferry")
	if out, err := exec.Command("go", "build", "-tags", tags, "-o", b.path, ".").CombinedOutput(); err != nil {
		b.err = fmt.Errorf("go build -tags %q: %v\n%s", tags, err, out)
		t.Fatal(b.err)
	}
	return b.path
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

// startStandalone starts a standalone worker of the binary at bin on a
// fresh data directory and a free address, with more flags.
func startStandalone(t *testing.T, bin string, flags ...string) *proc {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"standalone", "--data-dir", filepath.Join(t.TempDir(), "data"), "--listen", addr, "--log-level", "info"}, flags...)
	return startFerryBinary(t, bin, args, "http://"+addr, nil, 20*time.Second)
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
	return startFerryBinary(t, ferryBinary(t), args, url, client, timeout)
}

// startFerryBinary is startFerryWith for the binary at bin.
func startFerryBinary(t *testing.T, bin string, args []string, url string, client *http.Client, timeout time.Duration) *proc {
	t.Helper()
	addr := strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://")
	cmd := exec.Command(bin, args...)
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

// kill SIGKILLs the process and waits until it has exited.
func (w *proc) kill() {
	w.t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		w.t.Fatal(err)
	}
	<-w.done
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

// createConnector posts a connector and fails the test unless it is
// created.
func (w *proc) createConnector(name string, config map[string]string) {
	w.t.Helper()
	code, body := w.do("POST", "/connectors", map[string]any{"name": name, "config": config})
	if code != http.StatusCreated {
		w.t.Fatalf("create %s: HTTP %d %s", name, code, body)
	}
}

// waitFor polls cond until it holds, failing the test after limit with
// the connector's status.
func (w *proc) waitFor(connector string, limit time.Duration, what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			st, tasks := w.connectorState(connector)
			w.t.Fatalf("%s: not reached within %s; connector %s %v", what, limit, st, tasks)
		}
		if _, tasks := w.connectorState(connector); len(tasks) > 0 && strings.HasPrefix(tasks[0], "FAILED") {
			w.t.Fatalf("%s: task failed: %v", what, tasks)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metric sums the worker's Prometheus series name for connector.
func (w *proc) metric(name, connector string) float64 {
	w.t.Helper()
	req, err := http.NewRequest("GET", w.url+"/metrics", nil)
	if err != nil {
		return -1
	}
	// Uncompressed: benchmarks poll this, and gzip is CPU the worker
	// would spend on the measurement.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, `connector="`+connector+`"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// rssSampler records the peak resident memory of a process (the kernel's
// VmHWM, so a peak between two samples is not missed), and the peaks
// of its two parts: anonymous memory (the heap, stacks, the runtime's own)
// and file-backed pages (the mapped binary and libraries: shared with the
// page cache, and how much of them is counted depends on what the process
// touched and the kernel's fault-around).
type rssSampler struct {
	peak, anon, file atomic.Int64 // kB
	stop             chan struct{}
	done             chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			raise := func(v *atomic.Int64, field string) {
				if kb, _ := statusKB(pid, field); kb > v.Load() {
					v.Store(kb)
				}
			}
			raise(&s.peak, "VmHWM:")
			raise(&s.anon, "RssAnon:")
			raise(&s.file, "RssFile:")
			select {
			case <-s.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return s
}

// Stop returns the peak in MB.
func (s *rssSampler) Stop() float64 {
	close(s.stop)
	<-s.done
	return float64(s.peak.Load()) / 1024
}

// Parts returns the peaks of anonymous and file-backed resident memory in
// MB, after Stop (each part's own peak: they need not be simultaneous).
func (s *rssSampler) Parts() (anonMB, fileMB float64) {
	return float64(s.anon.Load()) / 1024, float64(s.file.Load()) / 1024
}

// procStatusKB reads one kB field of /proc/<pid>/status (VmRSS:, VmHWM:).
func procStatusKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	kb, err := statusKB(pid, field)
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

// statusKB is procStatusKB for callers without a test to stop.
func statusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// procCPU is a process's user+system CPU time so far, from /proc.
func procCPU(t testing.TB, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command (which may hold spaces) in parentheses:
	// utime and stime are fields 14 and 15, in clock ticks (100 Hz on
	// Linux).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
