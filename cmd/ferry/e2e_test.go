package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The end-to-end tests build the real binary and drive it over REST
// (proc_test.go starts and drives it).

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
	w.kill()
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
	kb := procStatusKB(t, w.cmd.Process.Pid, "VmRSS:")
	if kb == 0 {
		t.Fatal("no VmRSS in /proc status")
	}
	t.Logf("idle worker RSS: %.1f MB", float64(kb)/1024)
	if kb > 80*1024 {
		t.Errorf("idle RSS %d kB exceeds the 80 MB regression guard", kb)
	}
}
