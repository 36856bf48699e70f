package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// clusterProc is one `ferry worker` process of a test cluster.
type clusterProc struct {
	*proc
	id     string
	gossip string
}

// startClusterWorker starts `ferry worker` and waits until it serves. Its
// worker id is its REST address (the default).
func startClusterWorker(t *testing.T, clusterName, nameSrv, dataDir, listen, gossip string, join []string, extra ...string) *clusterProc {
	t.Helper()
	args := []string{"worker", "--cluster", clusterName, "--data-dir", dataDir, "--listen", listen, "--gossip", gossip,
		"--rocketmq", nameSrv, "--log-level", "info"}
	if len(join) > 0 {
		args = append(args, "--join", strings.Join(join, ","))
	}
	args = append(args, extra...)
	return &clusterProc{proc: startFerry(t, args, listen, 60*time.Second), id: listen, gossip: gossip}
}

// clusterView is the part of GET /cluster the test reads.
type clusterView struct {
	Members []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"members"`
	Leader      string `json:"leader"`
	Generation  int64  `json:"generation"`
	Assignments map[string][]struct {
		Connector string
		Task      int
	} `json:"assignments"`
}

func (w *clusterProc) cluster() (clusterView, bool) {
	code, body := w.do("GET", "/cluster", nil)
	var v clusterView
	if code != http.StatusOK || json.Unmarshal(body, &v) != nil {
		return v, false
	}
	return v, true
}

func (v clusterView) alive() []string {
	var out []string
	for _, m := range v.Members {
		if m.State == "alive" {
			out = append(out, m.ID)
		}
	}
	sort.Strings(out)
	return out
}

// taskOwners reads every connector's status through w and maps each
// RUNNING task to its worker; it reports whether every task of every
// connector is RUNNING.
func taskOwners(w *clusterProc, conns []string, tasks int) (map[string]string, bool) {
	own := map[string]string{}
	all := true
	for _, c := range conns {
		code, body := w.do("GET", "/connectors/"+c+"/status", nil)
		if code != http.StatusOK {
			return own, false
		}
		var st struct {
			Tasks []struct {
				ID       int    `json:"id"`
				State    string `json:"state"`
				WorkerID string `json:"worker_id"`
			} `json:"tasks"`
		}
		if json.Unmarshal(body, &st) != nil || len(st.Tasks) != tasks {
			all = false
			continue
		}
		for _, tk := range st.Tasks {
			if tk.State == "RUNNING" {
				own[fmt.Sprintf("%s/%d", c, tk.ID)] = tk.WorkerID
			} else {
				all = false
			}
		}
	}
	return own, all
}

func distribution(own map[string]string) map[string]int {
	n := map[string]int{}
	for _, w := range own {
		n[w]++
	}
	return n
}

func spread(n map[string]int, workers []string) int {
	lo, hi := 1<<30, 0
	for _, w := range workers {
		lo, hi = min(lo, n[w]), max(hi, n[w])
	}
	return hi - lo
}

// countTaskSeqs counts each (task, seq) of a generator → file output.
func countTaskSeqs(t *testing.T, path string) (seen map[[2]int]int, bad int) {
	t.Helper()
	seen = map[[2]int]int{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return seen, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev struct {
			Data struct {
				Seq  *int `json:"seq"`
				Task int  `json:"task"`
			} `json:"data"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Data.Seq == nil {
			bad++
			continue
		}
		seen[[2]int{ev.Data.Task, *ev.Data.Seq}]++
	}
	return seen, bad
}

// tasksOff returns the owner of every task, seen through w, once every
// task runs and none on worker gone; ok is false until then.
func tasksOff(w *clusterProc, conns []string, tasks int, gone string) (own map[string]string, ok bool) {
	o, all := taskOwners(w, conns, tasks)
	if !all || len(o) != len(conns)*tasks {
		return nil, false
	}
	for _, id := range o {
		if id == gone {
			return nil, false
		}
	}
	return o, true
}

// TestClusterEndToEnd runs three `ferry worker` processes on loopback
// against the test bed's RocketMQ: ten generator → file connectors with
// three tasks each, created through different workers, run every task
// exactly once, balanced; a SIGKILLed worker's tasks run on the survivors
// within 5 s, and every (task, seq) reaches the files (duplicates counted,
// none lost).
func TestClusterEndToEnd(t *testing.T) {
	ferryBinary(t) // skips under -short
	nameSrv := testbed.RocketMQ(t)
	clusterName := newClusterName()
	dir := t.TempDir()

	const (
		nConns = 10
		nTasks = 3
		count  = 1500 // events per task
		rate   = "150"
	)
	var workers []*clusterProc
	gossip0 := freeAddr(t)
	for i := range 3 {
		var join []string
		if i > 0 {
			join = []string{gossip0}
		}
		g := gossip0
		if i > 0 {
			g = freeAddr(t)
		}
		workers = append(workers, startClusterWorker(t, clusterName, nameSrv, filepath.Join(dir, fmt.Sprintf("w%d", i)),
			freeAddr(t), g, join, "--grace", "500ms"))
	}
	ids := []string{workers[0].id, workers[1].id, workers[2].id}
	waitFor(t, "three alive members on every worker", 30*time.Second, func() bool {
		for _, w := range workers {
			v, ok := w.cluster()
			if !ok || len(v.alive()) != 3 || v.Leader == "" {
				return false
			}
		}
		return true
	})

	var conns []string
	for i := range nConns {
		name := fmt.Sprintf("gen%d", i)
		conns = append(conns, name)
		w := workers[i%3]
		code, body := w.do("POST", "/connectors", map[string]any{"name": name, "config": map[string]string{
			"source": "generator", "source.count": fmt.Sprint(count), "source.rate": rate,
			"sink": "file", "sink.path": filepath.Join(dir, name+".jsonl"),
			"tasks.max": fmt.Sprint(nTasks),
		}})
		if code != http.StatusCreated {
			t.Fatalf("create %s through %s: HTTP %d %s", name, w.id, code, body)
		}
	}

	var own map[string]string
	took := waitFor(t, "every task RUNNING once, balanced", 60*time.Second, func() bool {
		var all bool
		own, all = taskOwners(workers[1], conns, nTasks)
		return all && len(own) == nConns*nTasks && spread(distribution(own), ids) <= 1
	})
	t.Logf("all %d tasks running %v after the creates; distribution %v", len(own), took, distribution(own))
	// Every worker reports the same (the status is replicated).
	for _, w := range workers {
		o, _ := taskOwners(w, conns, nTasks)
		if fmt.Sprint(o) != fmt.Sprint(own) {
			t.Errorf("worker %s sees owners %v, worker %s sees %v", w.id, o, workers[1].id, own)
		}
	}

	// SIGKILL a worker under load (not the one the test reads through).
	victim := workers[2]
	time.Sleep(2 * time.Second)
	victim.kill()
	survivors := ids[:2]
	took = waitFor(t, "the victim's tasks running on the survivors", 30*time.Second, func() bool {
		o, ok := tasksOff(workers[0], conns, nTasks, victim.id)
		own = o
		return ok
	})
	t.Logf("after SIGKILL of %s: every task running on the survivors in %v; distribution %v", victim.id, took, distribution(own))
	if took > 5*time.Second {
		t.Errorf("failover took %v, more than 5s", took)
	}
	if d := spread(distribution(own), survivors); d > 1 {
		t.Errorf("unbalanced after failover: %v", distribution(own))
	}

	// Every (task, seq) reaches the files; duplicates are counted.
	want := nTasks * count
	waitFor(t, "every event in the files", 90*time.Second, func() bool {
		for _, c := range conns {
			seen, _ := countTaskSeqs(t, filepath.Join(dir, c+".jsonl"))
			if len(seen) < want {
				return false
			}
		}
		return true
	})
	dups, bad := 0, 0
	for _, c := range conns {
		seen, b := countTaskSeqs(t, filepath.Join(dir, c+".jsonl"))
		bad += b
		for task := range nTasks {
			for seq := range count {
				n := seen[[2]int{task, seq}]
				if n == 0 {
					t.Fatalf("%s task %d seq %d missing", c, task, seq)
				}
				dups += n - 1
			}
		}
		if len(seen) != want {
			t.Errorf("%s: %d distinct (task, seq), want %d", c, len(seen), want)
		}
	}
	t.Logf("all %d events present in %d files; %d duplicates (replayed after the kill or a move), %d unparsable lines",
		nConns*want, nConns, dups, bad)
	// A kill can tear at most the line being appended to each file.
	if bad > nConns {
		t.Errorf("%d unparsable lines, more than one per file", bad)
	}
	v, _ := workers[0].cluster()
	if slices.Contains(v.alive(), victim.id) {
		t.Errorf("the victim is still alive in %v", v.Members)
	}
}

// startedTasks counts the "task started" lines a worker logged.
func (w *clusterProc) startedTasks() int {
	return strings.Count(w.logText(), `msg="task started"`)
}

// duplicates counts the (task, seq) written more than once to the files
// of conns in dir.
func duplicates(t *testing.T, dir string, conns []string) int {
	t.Helper()
	n := 0
	for _, c := range conns {
		seen, _ := countTaskSeqs(t, filepath.Join(dir, c+".jsonl"))
		for _, k := range seen {
			n += k - 1
		}
	}
	return n
}

// TestClusterJoinDrainRestart: a fourth worker joins and only the surplus
// moves to it (no other task restarts); a worker stopped with SIGTERM
// hands its tasks over without waiting for failure detection (the grace
// period is long, so only a drain can be this fast) and exits 0; then
// every worker stops and starts again, and connectors, offsets and
// states come back from RocketMQ with no event lost.
func TestClusterJoinDrainRestart(t *testing.T) {
	ferryBinary(t)
	nameSrv := testbed.RocketMQ(t)
	clusterName := newClusterName()
	dir := t.TempDir()
	const (
		nConns = 6
		nTasks = 3
		count  = 3000
		rate   = "100"
	)
	type addrs struct{ data, listen, gossip string }
	var cfgs []addrs
	for i := range 4 {
		cfgs = append(cfgs, addrs{filepath.Join(dir, fmt.Sprintf("w%d", i)), freeAddr(t), freeAddr(t)})
	}
	seed := []string{cfgs[0].gossip}
	start := func(i int) *clusterProc {
		var join []string
		if i > 0 {
			join = seed
		}
		return startClusterWorker(t, clusterName, nameSrv, cfgs[i].data, cfgs[i].listen, cfgs[i].gossip, join, "--grace", "10s")
	}
	workers := []*clusterProc{start(0), start(1), start(2)}
	ids := []string{workers[0].id, workers[1].id, workers[2].id}
	waitFor(t, "three alive members", 30*time.Second, func() bool {
		v, ok := workers[2].cluster()
		return ok && len(v.alive()) == 3
	})
	var conns []string
	for i := range nConns {
		name := fmt.Sprintf("gen%d", i)
		conns = append(conns, name)
		code, body := workers[i%3].do("POST", "/connectors", map[string]any{"name": name, "config": map[string]string{
			"source": "generator", "source.count": fmt.Sprint(count), "source.rate": rate,
			"sink": "file", "sink.path": filepath.Join(dir, name+".jsonl"),
			"tasks.max": fmt.Sprint(nTasks),
		}})
		if code != http.StatusCreated {
			t.Fatalf("create %s: HTTP %d %s", name, code, body)
		}
	}
	var before map[string]string
	waitFor(t, "18 tasks running, 6 per worker", 60*time.Second, func() bool {
		o, all := taskOwners(workers[0], conns, nTasks)
		before = o
		return all && len(o) == nConns*nTasks && spread(distribution(o), ids) == 0
	})
	started := map[string]int{}
	for _, w := range workers {
		started[w.id] = w.startedTasks()
	}

	// A fourth worker joins: only the surplus moves, all of it to the
	// newcomer, and no task of the others restarts.
	w3 := start(3)
	workers = append(workers, w3)
	ids = append(ids, w3.id)
	var after map[string]string
	took := waitFor(t, "a balanced four-worker assignment", 30*time.Second, func() bool {
		o, all := taskOwners(workers[0], conns, nTasks)
		after = o
		return all && len(o) == nConns*nTasks && spread(distribution(o), ids) <= 1
	})
	moved := 0
	for task, w := range after {
		if w != before[task] {
			moved++
			if w != w3.id {
				t.Errorf("task %s moved from %s to %s, not to the new worker", task, before[task], w)
			}
		}
	}
	t.Logf("join: balanced in %v, %d tasks moved (ideal %d); distribution %v", took, moved, distribution(after)[w3.id], distribution(after))
	// Duplicates so far come from the join's hand-over alone (the new
	// owner replays from the last commit what the old one wrote after
	// it). Measured after a moment, so the new owners' replays are in.
	time.Sleep(2 * time.Second)
	joinDups := duplicates(t, dir, conns)
	t.Logf("join: %d duplicates written by the hand-over of %d tasks", joinDups, moved)
	for _, w := range workers[:3] {
		if n := w.startedTasks(); n != started[w.id] {
			t.Errorf("worker %s started %d tasks after the join; only the newcomer should start any", w.id, n-started[w.id])
		}
	}
	out, err := exec.Command(ferryBinary(t), "cluster", "status", "--url", w3.url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "LEADER") || !strings.Contains(string(out), w3.id) {
		t.Errorf("ferry cluster status: %v\n%s", err, out)
	}
	t.Logf("ferry cluster status:\n%s", out)

	// SIGTERM the first worker (the leader): it drains, then exits 0. The
	// grace period of 10s means a failure-detected move would take longer.
	leaving := workers[0]
	if err := leaving.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest := workers[1:]
	took = waitFor(t, "the leaving worker's tasks on the others", 20*time.Second, func() bool {
		o, ok := tasksOff(rest[0], conns, nTasks, leaving.id)
		after = o
		return ok
	})
	t.Logf("graceful stop: tasks moved in %v; distribution %v", took, distribution(after))
	time.Sleep(2 * time.Second)
	t.Logf("drain: %d duplicates written by the hand-over", duplicates(t, dir, conns)-joinDups)
	if took > 5*time.Second {
		t.Errorf("graceful hand-over took %v: it waited for failure detection", took)
	}
	select {
	case <-leaving.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the drained worker did not exit")
	}
	if code := leaving.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("drained worker exited %d", code)
	}
	// The connectors' own status lines follow the new leader: none names
	// the worker that left.
	waitFor(t, "connector status naming a live worker", 20*time.Second, func() bool {
		for _, c := range conns {
			code, body := rest[0].do("GET", "/connectors/"+c+"/status", nil)
			var st struct {
				Connector struct {
					WorkerID string `json:"worker_id"`
				} `json:"connector"`
			}
			if code != http.StatusOK || json.Unmarshal(body, &st) != nil || st.Connector.WorkerID == leaving.id {
				return false
			}
		}
		return true
	})

	// Stop every worker, then start the original three again.
	for _, w := range rest {
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, w := range rest {
		select {
		case <-w.done:
		case <-time.After(40 * time.Second):
			t.Fatalf("worker %s did not stop", w.id)
		}
	}
	mid := map[string]int{}
	for _, c := range conns {
		seen, _ := countTaskSeqs(t, filepath.Join(dir, c+".jsonl"))
		mid[c] = len(seen)
	}
	workers = []*clusterProc{start(0), start(1), start(2)}
	ids = ids[:3]
	took = waitFor(t, "connectors back from RocketMQ, every task running, balanced", 60*time.Second, func() bool {
		o, all := taskOwners(workers[1], conns, nTasks)
		after = o
		return all && len(o) == nConns*nTasks && spread(distribution(o), ids) <= 1
	})
	t.Logf("restart: all tasks running again in %v; distribution %v; events before restart %v", took, distribution(after), mid)
	if os.Getenv("FERRY_E2E_DEBUG") != "" {
		for _, w := range workers {
			t.Logf("logs of %s:\n%s", w.id, w.logText())
		}
	}

	want := nTasks * count
	waitFor(t, "every event in the files", 120*time.Second, func() bool {
		for _, c := range conns {
			seen, _ := countTaskSeqs(t, filepath.Join(dir, c+".jsonl"))
			if len(seen) < want {
				return false
			}
		}
		return true
	})
	dups := 0
	for _, c := range conns {
		seen, _ := countTaskSeqs(t, filepath.Join(dir, c+".jsonl"))
		for k, n := range seen {
			if k[0] >= nTasks || k[1] >= count {
				t.Errorf("%s: unexpected (task, seq) %v", c, k)
			}
			dups += n - 1
		}
		if len(seen) != want {
			t.Errorf("%s: %d distinct (task, seq), want %d", c, len(seen), want)
		}
	}
	// Offsets came back: a restart from zero would duplicate everything
	// written before it.
	total := 0
	for _, n := range mid {
		total += n
	}
	t.Logf("all %d events present; %d duplicates; %d events were written before the full restart", nConns*want, dups, total)
	if dups >= total/2 && total > 0 {
		t.Errorf("%d duplicates for %d events before the restart: offsets did not come back", dups, total)
	}
}

// committedSeqs reads a connector's committed generator positions
// (partition → seq) through w.
func committedSeqs(w *clusterProc, conn string) (map[string]int, bool) {
	code, body := w.do("GET", "/connectors/"+conn+"/offsets", nil)
	if code != http.StatusOK {
		return nil, false
	}
	var o struct {
		Offsets []struct {
			Partition map[string]string `json:"partition"`
			Offset    map[string]string `json:"offset"`
		} `json:"offsets"`
	}
	if json.Unmarshal(body, &o) != nil {
		return nil, false
	}
	out := map[string]int{}
	for _, p := range o.Offsets {
		var n int
		if _, err := fmt.Sscan(p.Offset["position"], &n); err == nil {
			out[p.Partition["partition"]] = n
		}
	}
	return out, true
}

// commitWatch polls the committed offsets of some connectors through one
// worker every 50 ms and records every time one was lower than the time
// before (each regression once, as "<conn>/<partition> went back …").
type commitWatch struct {
	mu    sync.Mutex
	backs []string
	stop  chan struct{}
	done  chan struct{}
}

func watchCommitted(w *clusterProc, conns []string) *commitWatch {
	cw := &commitWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(cw.done)
		last := map[string]int{}
		for {
			select {
			case <-cw.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			for _, c := range conns {
				seqs, ok := committedSeqs(w, c)
				if !ok {
					continue
				}
				for p, n := range seqs {
					k := c + "/" + p
					if n < last[k] {
						cw.mu.Lock()
						cw.backs = append(cw.backs, fmt.Sprintf("%s went back from %d to %d", k, last[k], n))
						cw.mu.Unlock()
					}
					last[k] = n
				}
			}
		}
	}()
	return cw
}

// wentBack returns the regressions recorded so far.
func (cw *commitWatch) wentBack() []string {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return slices.Clone(cw.backs)
}

// end stops the watch and returns every regression it saw.
func (cw *commitWatch) end() []string {
	close(cw.stop)
	<-cw.done
	return cw.wentBack()
}

// TestClusterZombie freezes a worker with SIGSTOP (it keeps its tasks but
// misses gossip, like a worker cut off the network), lets the others
// declare it dead and take its tasks, then wakes it: its late commits must
// not move any committed offset back, it must stop the tasks it lost, and
// no event may be lost.
func TestClusterZombie(t *testing.T) {
	ferryBinary(t)
	nameSrv := testbed.RocketMQ(t)
	clusterName := newClusterName()
	dir := t.TempDir()
	const (
		nConns = 4
		nTasks = 3
		count  = 3000
		rate   = "200"
	)
	g0 := freeAddr(t)
	var workers []*clusterProc
	for i := range 3 {
		g, join := g0, []string(nil)
		if i > 0 {
			g, join = freeAddr(t), []string{g0}
		}
		workers = append(workers, startClusterWorker(t, clusterName, nameSrv, filepath.Join(dir, fmt.Sprintf("w%d", i)),
			freeAddr(t), g, join, "--grace", "0s"))
	}
	waitFor(t, "three alive members", 30*time.Second, func() bool {
		v, ok := workers[0].cluster()
		return ok && len(v.alive()) == 3
	})
	var conns []string
	for i := range nConns {
		name := fmt.Sprintf("gen%d", i)
		conns = append(conns, name)
		code, body := workers[0].do("POST", "/connectors", map[string]any{"name": name, "config": map[string]string{
			"source": "generator", "source.count": fmt.Sprint(count), "source.rate": rate,
			"sink": "file", "sink.path": filepath.Join(dir, name+".jsonl"),
			"tasks.max": fmt.Sprint(nTasks), "offset.flush.interval.ms": "200",
		}})
		if code != http.StatusCreated {
			t.Fatalf("create %s: HTTP %d %s", name, code, body)
		}
	}
	waitFor(t, "every task running", 60*time.Second, func() bool {
		o, all := taskOwners(workers[0], conns, nTasks)
		return all && len(o) == nConns*nTasks
	})

	// Watch the committed offsets through a worker that is never frozen:
	// none may ever go back.
	watch := watchCommitted(workers[0], conns)

	zombie := workers[2]
	time.Sleep(time.Second)
	if err := zombie.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, "the frozen worker's tasks running elsewhere", 30*time.Second, func() bool {
		_, ok := tasksOff(workers[0], conns, nTasks, zombie.id)
		return ok
	})
	t.Logf("tasks of the frozen worker moved in %v", took)
	time.Sleep(time.Second) // the new owners commit past the zombie's offsets
	if err := zombie.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// The zombie wakes, reads the new assignment and stops what it lost;
	// gossip takes it back and the cluster rebalances onto it.
	waitFor(t, "the zombie back, the cluster balanced", 60*time.Second, func() bool {
		o, all := taskOwners(workers[0], conns, nTasks)
		return all && len(o) == nConns*nTasks && spread(distribution(o), []string{workers[0].id, workers[1].id, zombie.id}) <= 1
	})

	want := nTasks * count
	waitFor(t, "every event in the files", 90*time.Second, func() bool {
		for _, c := range conns {
			seen, _ := countTaskSeqs(t, filepath.Join(dir, c+".jsonl"))
			if len(seen) < want {
				return false
			}
		}
		return true
	})
	if backs := watch.end(); len(backs) > 0 {
		t.Errorf("committed offsets went back: %v", backs)
	}
	dups := 0
	for _, c := range conns {
		seen, _ := countTaskSeqs(t, filepath.Join(dir, c+".jsonl"))
		for _, n := range seen {
			dups += n - 1
		}
		if len(seen) != want {
			t.Errorf("%s: %d distinct (task, seq), want %d", c, len(seen), want)
		}
	}
	logs := zombie.logText()
	fenced := strings.Count(logs, "fenced")
	t.Logf("all %d events present, %d duplicates; the zombie logged %d fenced commits and %d task stops",
		nConns*want, dups, fenced, strings.Count(logs, `msg="task stopped"`))
	if !strings.Contains(logs, `msg="task stopped"`) {
		t.Error("the zombie never stopped the tasks it lost")
	}
}

// testCluster is a cluster of `ferry worker` processes with a unique
// name on the test bed's RocketMQ; every worker joins the first one's
// gossip address.
type testCluster struct {
	t       *testing.T
	nameSrv string
	name    string
	dir     string
	seed    string
	workers []*clusterProc
}

// newClusterName returns a random cluster name, so each test's workers
// get topics of their own on the shared broker.
func newClusterName() string {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return "e2e" + hex.EncodeToString(rnd[:])
}

// startTestCluster starts n workers, worker i with the flags flags(i),
// and waits until every one of them sees n alive members and a leader.
func startTestCluster(t *testing.T, n int, flags func(i int) []string) *testCluster {
	t.Helper()
	ferryBinary(t) // skips under -short
	c := &testCluster{t: t, nameSrv: testbed.RocketMQ(t), dir: t.TempDir(), seed: freeAddr(t)}
	c.name = newClusterName()
	for i := range n {
		g, join := c.seed, []string(nil)
		if i > 0 {
			g, join = freeAddr(t), []string{c.seed}
		}
		c.workers = append(c.workers, startClusterWorker(t, c.name, c.nameSrv, filepath.Join(c.dir, fmt.Sprintf("w%d", i)),
			freeAddr(t), g, join, flags(i)...))
	}
	waitFor(t, fmt.Sprintf("%d alive members and a leader on every worker", n), 30*time.Second, func() bool {
		for _, w := range c.workers {
			v, ok := w.cluster()
			if !ok || len(v.alive()) != n || v.Leader == "" {
				return false
			}
		}
		return true
	})
	return c
}

func (c *testCluster) ids() []string {
	var out []string
	for _, w := range c.workers {
		out = append(out, w.id)
	}
	return out
}

// createGenerators creates n generator → file connectors named gen0… with
// tasks tasks each (count events per task, 0 endless, at rate per task),
// through the workers in turn, and returns their names.
func (c *testCluster) createGenerators(n, tasks, count int, rate, flushMS string) []string {
	c.t.Helper()
	var conns []string
	for i := range n {
		name := fmt.Sprintf("gen%d", i)
		conns = append(conns, name)
		w := c.workers[i%len(c.workers)]
		code, body := w.do("POST", "/connectors", map[string]any{"name": name, "config": map[string]string{
			"source": "generator", "source.count": fmt.Sprint(count), "source.rate": rate,
			"sink": "file", "sink.path": c.output(name),
			"tasks.max": fmt.Sprint(tasks), "offset.flush.interval.ms": flushMS,
		}})
		if code != http.StatusCreated {
			c.t.Fatalf("create %s through %s: HTTP %d %s", name, w.id, code, body)
		}
	}
	return conns
}

// output is the file a connector of createGenerators writes.
func (c *testCluster) output(conn string) string { return filepath.Join(c.dir, conn+".jsonl") }

// checkNoGaps asserts that every task of every connector wrote each seq
// from 0 to the highest it wrote (an endless generator writes in seq
// order, so a gap is a lost event) and returns the number of events and
// of duplicates.
func (c *testCluster) checkNoGaps(conns []string, tasks int) (events, dups int) {
	c.t.Helper()
	for _, conn := range conns {
		seen, _ := countTaskSeqs(c.t, c.output(conn))
		top := make([]int, tasks)
		for k, n := range seen {
			if k[0] >= tasks {
				c.t.Errorf("%s: unexpected task in %v", conn, k)
				continue
			}
			top[k[0]] = max(top[k[0]], k[1]+1)
			dups += n - 1
		}
		for task, n := range top {
			events += n
			for seq := range n {
				if seen[[2]int{task, seq}] == 0 {
					c.t.Errorf("%s task %d: seq %d missing (highest written %d)", conn, task, seq, n-1)
					break
				}
			}
		}
	}
	return events, dups
}
