package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestChaos runs a three-worker cluster with eight generator → file
// connectors (three tasks each) and two MariaDB CDC → MariaDB connectors
// under a write load, and for FERRY_CHAOS_DURATION (default 5 m) SIGKILLs
// a random worker every 15 s and starts it again, restarts the RocketMQ
// broker once (at a third) and MariaDB once (at two thirds). At the end
// every generator seq up to the highest written is present (none lost),
// the target tables equal the sources, and the duplicates and failover
// times are reported. It restarts shared test-bed services, so it runs
// alone: `make chaos` (which `make test` calls last).
func TestChaos(t *testing.T) {
	if os.Getenv("FERRY_CHAOS") == "" {
		t.Skip("set FERRY_CHAOS=1 (make chaos): restarts the shared broker and MariaDB")
	}
	dur := 5 * time.Minute
	if v := os.Getenv("FERRY_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	const nGen, nTasks = 8, 3
	c := startTestCluster(t, 3, func(int) []string { return []string{"--grace", "500ms"} })
	gens := c.createGenerators(nGen, nTasks, 0, "50", "")

	// Two CDC pipelines, each with its own source and target database.
	type cdcPair struct {
		name     string
		src, dst *cdcDB
		writes   atomic.Int64
		failures atomic.Int64
	}
	var pairs []*cdcPair
	for i := range 2 {
		p := &cdcPair{name: fmt.Sprintf("cdc%d", i), src: newCDCDB(t, fmt.Sprintf("chsrc%d", i)), dst: newCDCDB(t, fmt.Sprintf("chdst%d", i))}
		for _, d := range []*cdcDB{p.src, p.dst} {
			d.exec("CREATE TABLE chaos (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, note VARCHAR(64))")
		}
		for id := range 500 {
			p.src.exec("INSERT INTO chaos VALUES (?, 0, ?)", id, "seed")
		}
		w := c.workers[i%len(c.workers)]
		code, body := w.do("POST", "/connectors", map[string]any{"name": p.name, "config": merge(p.src.sourceConfig(), p.dst.sinkConfig())})
		if code != 201 {
			t.Fatalf("create %s: HTTP %d %s", p.name, code, body)
		}
		pairs = append(pairs, p)
	}
	// The snapshot's position must be committed before the first kill: a
	// CDC connector killed before it starts a fresh snapshot, which cannot
	// remove target rows deleted meanwhile (docs/mysql-cdc.md).
	for _, p := range pairs {
		waitFor(t, p.name+" snapshot in the target", 2*time.Minute, func() bool { return p.dst.count("chaos") == 500 })
	}
	time.Sleep(2 * time.Second)

	// The write load: inserts, updates and deletes, about 100 changes a
	// second per database; errors (MariaDB restarting) are counted and
	// the load goes on.
	ctx, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := int64(500); ctx.Err() == nil; i++ {
			for _, p := range pairs {
				var err error
				switch {
				case i%7 == 0:
					_, err = p.src.db.ExecContext(ctx, "DELETE FROM chaos WHERE id = ?", rng.Int64N(i))
				case i%3 == 0:
					_, err = p.src.db.ExecContext(ctx, "UPDATE chaos SET v = v + 1, note = ? WHERE id = ?", fmt.Sprint("u", i), rng.Int64N(i))
				default:
					_, err = p.src.db.ExecContext(ctx, "INSERT INTO chaos VALUES (?, ?, ?)", i, i, "insert")
				}
				if err != nil {
					p.failures.Add(1)
				} else {
					p.writes.Add(1)
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	start := time.Now()
	brokerAt, dbAt := start.Add(dur/3), start.Add(2*dur/3)
	brokerDone, dbDone := false, false
	kills := 0
	var failovers []time.Duration
	rng := rand.New(rand.NewPCG(3, 4))
	for time.Since(start) < dur {
		time.Sleep(15 * time.Second)
		switch {
		case !brokerDone && time.Now().After(brokerAt):
			t.Logf("%v: restarting the RocketMQ broker", time.Since(start).Round(time.Second))
			testbed.Run(t, "restart", "rocketmq")
			brokerDone = true
			continue
		case !dbDone && time.Now().After(dbAt):
			t.Logf("%v: restarting MariaDB", time.Since(start).Round(time.Second))
			testbed.Run(t, "restart", "mariadb")
			dbDone = true
			continue
		}
		i := rng.IntN(len(c.workers))
		victim := c.workers[i]
		reader := c.workers[(i+1)%len(c.workers)]
		victim.kill()
		kills++
		took := waitFor(t, "the victim's tasks running elsewhere", time.Minute, func() bool {
			_, ok := tasksOff(reader, gens, nTasks, victim.id)
			return ok
		})
		failovers = append(failovers, took)
		// The same worker comes back: same id, addresses and data dir.
		var join []string
		for _, w := range c.workers {
			if w != victim {
				join = append(join, w.gossip)
			}
		}
		c.workers[i] = startClusterWorker(t, c.name, c.nameSrv, filepath.Join(c.dir, fmt.Sprintf("w%d", i)),
			victim.id, victim.gossip, join, "--grace", "500ms")
	}
	stopLoad()
	<-loadDone

	// Every generator seq up to the highest written is there.
	time.Sleep(5 * time.Second)
	events, dups := c.checkNoGaps(gens, nTasks)
	// The targets converge to the sources.
	for _, p := range pairs {
		q := "SELECT id, v, note FROM chaos ORDER BY id"
		waitFor(t, p.name+" target equal to the source", 3*time.Minute, func() bool {
			return fmt.Sprint(p.src.rows(q)) == fmt.Sprint(p.dst.rows(q))
		})
		t.Logf("%s: %d changes written (%d refused while MariaDB restarted); target equals source (%d rows)",
			p.name, p.writes.Load(), p.failures.Load(), p.src.count("chaos"))
	}
	var ft []string
	for _, f := range failovers {
		ft = append(ft, f.Round(100*time.Millisecond).String())
	}
	t.Logf("chaos for %v: %d SIGKILLs, broker and MariaDB restarted once each; generators: %d events, none lost, %d duplicates (%.2f%%); failover times %s",
		dur, kills, events, dups, 100*float64(dups)/float64(max(events, 1)), strings.Join(ft, " "))
}
