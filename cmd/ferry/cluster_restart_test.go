package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// restView samples the REST API of every worker while the broker
// restarts: reads must keep answering (a 503 with a message would be an
// acceptable answer; nothing else), and every worker must keep showing
// the same cluster.
type restView struct {
	mu       sync.Mutex
	requests int
	failures []string
	slowest  time.Duration
	views    int
	// The committed seqs of the sampled connector, summed over its
	// partitions as the first worker reports them: the longest time it
	// did not grow is the commit outage the broker restart caused.
	committed    int
	advanced     time.Time
	longestStall time.Duration
	// Workers learn a new generation by reading the config topic, so a
	// follower can lag the leader for a moment (longer right after the
	// broker is back, while its readers retry). A disagreement is a
	// failure only when it outlasts maxSkew.
	skewSince   time.Time
	longestSkew time.Duration
}

// maxSkew is how long workers may disagree on the generation.
const maxSkew = 10 * time.Second

func (r *restView) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failures) < 20 {
		r.failures = append(r.failures, fmt.Sprintf(format, args...))
	}
}

// get reads one path; it reports the body when the answer is a 200.
func (r *restView) get(client *http.Client, url string) ([]byte, bool) {
	start := time.Now()
	resp, err := client.Get(url)
	took := time.Since(start)
	r.mu.Lock()
	r.requests++
	r.slowest = max(r.slowest, took)
	r.mu.Unlock()
	if err != nil {
		r.fail("GET %s: %v", url, err)
		return nil, false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var msg struct {
		Message string `json:"message"`
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return body, true
	case resp.StatusCode == http.StatusServiceUnavailable && json.Unmarshal(body, &msg) == nil && msg.Message != "":
		return nil, false
	}
	r.fail("GET %s: HTTP %d %s", url, resp.StatusCode, body)
	return nil, false
}

// noteCommitted records progress of the committed offsets in body (GET
// /connectors/{name}/offsets of a generator connector).
func (r *restView) noteCommitted(body []byte) {
	var o struct {
		Offsets []struct {
			Offset map[string]string `json:"offset"`
		} `json:"offsets"`
	}
	if json.Unmarshal(body, &o) != nil {
		return
	}
	sum := 0
	for _, p := range o.Offsets {
		var n int
		if _, err := fmt.Sscan(p.Offset["position"], &n); err == nil {
			sum += n
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.advanced.IsZero() || sum > r.committed {
		r.committed, r.advanced = sum, now
	}
	r.longestStall = max(r.longestStall, now.Sub(r.advanced))
}

// sample reads status, offsets and the cluster view through every worker
// and checks that the workers agree on the members and leader, and on
// the generation within maxSkew.
func (r *restView) sample(client *http.Client, workers []*clusterProc, conn string) {
	var first *clusterView
	skew := ""
	for _, w := range workers {
		r.get(client, w.url+"/connectors/"+conn+"/status")
		if body, ok := r.get(client, w.url+"/connectors/"+conn+"/offsets"); ok && w == workers[0] {
			r.noteCommitted(body)
		}
		body, ok := r.get(client, w.url+"/cluster")
		if !ok {
			continue
		}
		var v clusterView
		if err := json.Unmarshal(body, &v); err != nil {
			r.fail("GET /cluster on %s: %v", w.id, err)
			continue
		}
		if len(v.alive()) != len(workers) {
			r.fail("%s sees alive members %v", w.id, v.alive())
		}
		switch {
		case first == nil:
			first = &v
		case v.Leader != first.Leader:
			r.fail("%s sees leader %s, another worker %s", w.id, v.Leader, first.Leader)
		case v.Generation != first.Generation:
			skew = fmt.Sprintf("%s sees generation %d, another worker %d", w.id, v.Generation, first.Generation)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.views++
	now := time.Now()
	if skew == "" {
		r.skewSince = time.Time{}
		return
	}
	if r.skewSince.IsZero() {
		r.skewSince = now
	}
	r.longestSkew = max(r.longestSkew, now.Sub(r.skewSince))
	if now.Sub(r.skewSince) > maxSkew && len(r.failures) < 20 {
		r.failures = append(r.failures, fmt.Sprintf("for %v: %s", now.Sub(r.skewSince).Round(time.Millisecond), skew))
	}
}

// TestClusterBrokerRestart restarts the test bed's RocketMQ broker while
// three workers run generator → file connectors: tasks keep (or resume)
// running, commits resume once the broker is back (the time is measured),
// the REST API keeps answering reads and every worker shows the same
// cluster throughout, no task moves, and no event is lost (duplicates are
// counted). It takes the test bed's exclusive RocketMQ lock for the
// restart, and `make test` runs it apart from other tests (RESTART_TESTS).
func TestClusterBrokerRestart(t *testing.T) {
	c := startTestCluster(t, 3, func(int) []string { return []string{"--grace", "2s"} })
	const (
		nConns = 4
		nTasks = 3
	)
	conns := c.createGenerators(nConns, nTasks, 0, "50", "500")
	var before map[string]string
	waitFor(t, "every task running", 60*time.Second, func() bool {
		var all bool
		before, all = taskOwners(c.workers[0], conns, nTasks)
		return all && len(before) == nConns*nTasks
	})
	// committed reads every partition's committed seq through the first
	// worker (they are replicated: any worker answers the same).
	committed := func() map[string]int {
		out := map[string]int{}
		for _, conn := range conns {
			seqs, _ := committedSeqs(c.workers[0], conn)
			for p, n := range seqs {
				out[conn+"/"+p] = n
			}
		}
		return out
	}
	waitFor(t, "a commit of every task", 30*time.Second, func() bool {
		return len(committed()) == nConns*nTasks
	})
	written := func() int {
		n := 0
		for _, conn := range conns {
			seen, _ := countTaskSeqs(t, c.output(conn))
			n += len(seen)
		}
		return n
	}

	// Sample the REST API of every worker from now until the end.
	view := &restView{}
	client := &http.Client{Timeout: 10 * time.Second}
	stopSampling := make(chan struct{})
	samplingDone := make(chan struct{})
	go func() {
		defer close(samplingDone)
		for {
			view.sample(client, c.workers, conns[0])
			select {
			case <-stopSampling:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()

	startEvents, startCommitted := written(), committed()
	start := time.Now()
	testbed.Run(t, "restart", "broker")
	back := time.Now()
	backEvents, backCommitted := written(), committed()
	t.Logf("broker restart took %v; events written %d before it, %d when the broker was back (the sinks kept writing: %v)",
		back.Sub(start).Round(time.Millisecond), startEvents, backEvents, backEvents > startEvents)
	advanced := 0
	for k, n := range backCommitted {
		if n > startCommitted[k] {
			advanced++
		}
	}
	t.Logf("%d of %d partitions committed across the restart window (commits land before the stop or after the start)",
		advanced, len(backCommitted))

	// Commits resume: every partition's committed seq passes what it was
	// when the broker came back.
	resumed := waitFor(t, "every partition committing again", 3*time.Minute, func() bool {
		now := committed()
		for k, n := range backCommitted {
			if now[k] <= n {
				return false
			}
		}
		return true
	})
	t.Logf("commits of every task resumed %v after the broker was back", resumed.Round(time.Millisecond))

	// A REST write works again too.
	code, body := c.workers[1].do("POST", "/connectors", map[string]any{"name": "after", "config": map[string]string{
		"source": "generator", "source.count": "100", "sink": "file", "sink.path": c.output("after"),
	}})
	if code != http.StatusCreated {
		t.Errorf("create after the restart: HTTP %d %s", code, body)
	}

	// Tasks end RUNNING on the workers they ran on before: a broker
	// outage is no reason to move anything.
	var after map[string]string
	waitFor(t, "every task RUNNING after the restart", 60*time.Second, func() bool {
		var all bool
		after, all = taskOwners(c.workers[2], conns, nTasks)
		return all && len(after) == nConns*nTasks
	})
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("tasks moved across the broker restart: before %v, after %v", before, after)
	}
	time.Sleep(2 * time.Second) // a last round of writes and commits
	close(stopSampling)
	<-samplingDone
	waitFor(t, "every worker on the same generation", maxSkew, func() bool {
		gens := map[int64]bool{}
		for _, w := range c.workers {
			v, ok := w.cluster()
			if !ok {
				return false
			}
			gens[v.Generation] = true
		}
		return len(gens) == 1
	})

	view.mu.Lock()
	t.Logf("REST during and after the restart: %d reads in %d samples of every worker, slowest %v, %d failures; "+
		"longest time without a commit of %s: %v; longest generation skew between workers: %v",
		view.requests, view.views, view.slowest.Round(time.Millisecond),
		len(view.failures), conns[0], view.longestStall.Round(time.Millisecond), view.longestSkew.Round(time.Millisecond))
	for _, f := range view.failures {
		t.Errorf("REST: %s", f)
	}
	view.mu.Unlock()

	events, dups := c.checkNoGaps(conns, nTasks)
	restarts := 0
	for _, w := range c.workers {
		restarts += strings.Count(w.logText(), `msg="task failed; restarting"`)
	}
	t.Logf("%d events, none missing, %d duplicates; %d automatic task restarts logged", events, dups, restarts)
}
