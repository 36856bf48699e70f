package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// setFaults switches the test-only faults of a worker started with
// --debug-faults addr.
func setFaults(t *testing.T, addr string, req faultRequest) {
	t.Helper()
	b, _ := json.Marshal(req)
	resp, err := http.Post("http://"+addr+"/debug/faults", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /debug/faults %+v: HTTP %d", req, resp.StatusCode)
	}
}

// TestClusterZombieFenced makes a zombie that certainly commits after its
// tasks moved: the worker's debug fault switches cut it off from gossip
// and hold its config reads, so it keeps running its tasks under its old
// generation and never sees the new assignment. The others move its tasks
// (grace 0) and the new owners commit; the zombie's next commit of every
// task must be fenced (its task stops on it), no committed offset may
// ever go back (watched through another worker; the new owners fence the
// zombie's runs before they read the offsets), and after the faults
// heal the zombie stops what it lost and takes its share again. No event
// is lost.
func TestClusterZombieFenced(t *testing.T) {
	faults := freeAddr(t)
	c := startTestCluster(t, 3, func(i int) []string {
		if i == 2 {
			return []string{"--grace", "0s", "--debug-faults", faults}
		}
		return []string{"--grace", "0s"}
	})
	const (
		nConns = 4
		nTasks = 3
		count  = 5000
	)
	conns := c.createGenerators(nConns, nTasks, count, "200", "200")
	zombie := c.workers[2]
	var lost []string
	waitFor(t, "every task running and committing", 60*time.Second, func() bool {
		own, all := taskOwners(c.workers[0], conns, nTasks)
		if !all || len(own) != nConns*nTasks {
			return false
		}
		lost = lost[:0]
		for task, w := range own {
			if w == zombie.id {
				lost = append(lost, task)
			}
		}
		for _, conn := range conns {
			if seqs, _ := committedSeqs(c.workers[0], conn); len(seqs) != nTasks {
				return false
			}
		}
		return true
	})
	watch := watchCommitted(c.workers[0], conns)

	setFaults(t, faults, faultRequest{Gossip: "cut", Config: "hold"})
	cut := time.Now()
	moved := waitFor(t, "the zombie's tasks running elsewhere", 30*time.Second, func() bool {
		_, ok := tasksOff(c.workers[0], conns, nTasks, zombie.id)
		return ok
	})
	fencedLine := func() int {
		n := 0
		for _, l := range strings.Split(zombie.logText(), "\n") {
			if strings.Contains(l, `msg="task failed"`) && strings.Contains(l, "fenced by a newer generation") {
				n++
			}
		}
		return n
	}
	// Every task the zombie ran is still running there, committing under
	// the old generation, until a commit is fenced.
	fencedIn := waitFor(t, "a fenced commit of every task the zombie lost", 60*time.Second, func() bool {
		return fencedLine() >= len(lost)
	})
	t.Logf("zombie %s ran %d tasks; they ran elsewhere %v after the cut; every one of its commits fenced %v later",
		zombie.id, len(lost), moved.Round(time.Millisecond), fencedIn.Round(time.Millisecond))

	if got := fencedLine(); got != len(lost) {
		t.Errorf("%d fenced task runs on the zombie, want one per lost task (%d)", got, len(lost))
	}

	setFaults(t, faults, faultRequest{Gossip: "heal", Config: "release"})
	healed := waitFor(t, "the zombie back, the cluster balanced", 60*time.Second, func() bool {
		own, all := taskOwners(c.workers[0], conns, nTasks)
		return all && len(own) == nConns*nTasks && spread(distribution(own), c.ids()) <= 1
	})
	stops := strings.Count(zombie.logText(), `msg="task stopped"`)
	t.Logf("after healing: balanced again in %v (%v after the cut); the zombie logged %d task stops",
		healed.Round(time.Millisecond), time.Since(cut).Round(time.Millisecond), stops)
	if stops < len(lost) {
		t.Errorf("the zombie stopped %d tasks, want at least the %d it lost", stops, len(lost))
	}
	// Issue 18: the cluster converges within 5 s of the heal.
	if healed > 5*time.Second {
		t.Errorf("balanced %v after the heal, want within 5s", healed.Round(time.Millisecond))
	}

	want := nTasks * count
	waitFor(t, "every event in the files", 90*time.Second, func() bool {
		for _, conn := range conns {
			if seen, _ := countTaskSeqs(t, c.output(conn)); len(seen) < want {
				return false
			}
		}
		return true
	})
	// The new owners fenced the zombie's runs before reading the committed
	// offsets, so no commit of the zombie moved an offset back, before or
	// after their first commits.
	if backs := watch.end(); len(backs) > 0 {
		t.Errorf("committed offsets went back: %v", backs)
	}
	fences := 0
	for _, w := range c.workers[:2] {
		fences += strings.Count(w.logText(), `msg="fenced the previous owner's run"`)
	}
	if fences < len(lost) {
		t.Errorf("the new owners fenced %d runs of the zombie, want one per lost task (%d)", fences, len(lost))
	}
	events, dups := c.checkNoGaps(conns, nTasks)
	if events != nConns*want {
		t.Errorf("%d events, want %d", events, nConns*want)
	}
	t.Logf("all %d events present, %d duplicates (the zombie's writes after the move among them)", events, dups)
}
