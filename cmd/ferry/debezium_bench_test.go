package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestCDCToKafkaVsDebezium measures Ferry's mysql-cdc → kafka beside
// Debezium's MySQL connector on a Kafka Connect standalone worker
// (deploy/bench/debezium.sh), on the same MariaDB table, binlog range and
// broker, in alternating runs (docs/benchmarks.md, "CDC → Kafka beside
// Debezium"). It runs only with FERRY_BENCH_DEBEZIUM=1:
//
//	FERRY_BENCH_DEBEZIUM=1 go test -count=1 -timeout 90m -run 'TestCDCToKafkaVsDebezium$' -v ./cmd/ferry/
//
// Each round has two phases, Ferry first in odd rounds and Debezium first
// in even ones:
//   - streaming: both connectors snapshot a one-row table and an empty
//     wide table, are stopped (Ferry: paused; Connect: stopped, which
//     shuts the task down and commits its offsets), the load is written
//     (rows/2 inserts, then rows/2 updates, 10,000-row statements), and
//     each is resumed alone until its topic holds every change;
//   - snapshot: a wide table of rows rows, and a connector created on it
//     until its topic holds every row.
//
// Rows are ~1 KB (nine columns: INT, VARCHAR, BIGINT, DECIMAL,
// DATETIME(6), TINYINT, DOUBLE, DATE and a 900-byte VARCHAR). Each
// connector writes to its own 6-partition topic keyed by primary key,
// JSON without a schema envelope (Ferry: structured CloudEvents whose
// data is the change; Connect: JsonConverter, schemas.enable=false).
// Completion is the topic's end offsets (polled every 50 ms); the figures
// are rows over the wall time from the create or resume, the process's
// CPU (user+system from /proc) over the same window per million rows, and
// its peak RSS sampled in the window. Sizes: FERRY_BENCH_DEBEZIUM_ROWS
// (default 1000000), FERRY_BENCH_DEBEZIUM_ROUNDS (default 3).
func TestCDCToKafkaVsDebezium(t *testing.T) {
	if os.Getenv("FERRY_BENCH_DEBEZIUM") != "1" {
		t.Skip("set FERRY_BENCH_DEBEZIUM=1 to run the Debezium comparison")
	}
	rows := envInt(t, "FERRY_BENCH_DEBEZIUM_ROWS", 1000000)
	rounds := envInt(t, "FERRY_BENCH_DEBEZIUM_ROUNDS", 3)
	ferryBinary(t)
	w := startWorker(t, filepath.Join(t.TempDir(), "data"), freeAddr(t))
	c := startConnect(t, testbed.Kafka(t))
	t.Logf("BENCH machine: %d cores, load avg %s; %d rows, %d rounds", runtime.NumCPU(), loadavg(), rows, rounds)

	var results []dbzFigure
	for round := 1; round <= rounds; round++ {
		ferryFirst := round%2 == 1
		results = append(results, dbzStreamingRound(t, w, c, round, rows, ferryFirst)...)
		results = append(results, dbzSnapshotRound(t, w, c, round, rows, !ferryFirst)...)
	}
	t.Log("BENCH summary (phase, round, system: rows/s, cpu-s/Mrow, peak RSS MB, load avg before → after):")
	for _, f := range results {
		t.Logf("BENCH %s", f)
	}
	for _, phase := range []string{"streaming", "snapshot"} {
		for round := 1; round <= rounds; round++ {
			var fe, de dbzFigure
			for _, f := range results {
				if f.phase == phase && f.round == round {
					if f.system == "ferry" {
						fe = f
					} else {
						de = f
					}
				}
			}
			t.Logf("BENCH %-9s round %d: ferry/debezium %.2f× rows/s, %.2f× less CPU per row, %.2f× less peak RSS",
				phase, round, fe.rate()/de.rate(), de.cpuPerM()/fe.cpuPerM(), de.rssMB/fe.rssMB)
		}
	}
}

// dbzFigure is one measured run.
type dbzFigure struct {
	phase, system string
	round, rows   int
	wall, cpu     time.Duration
	rssMB         float64
	load          string
}

func (f dbzFigure) rate() float64    { return float64(f.rows) / f.wall.Seconds() }
func (f dbzFigure) cpuPerM() float64 { return f.cpu.Seconds() * 1e6 / float64(f.rows) }

func (f dbzFigure) String() string {
	return fmt.Sprintf("%-9s round %d %-8s %8.0f rows/s, %5.2f cpu-s/Mrow, %5.0f MB peak RSS (%d rows in %s, %.1f cpu-s; load %s)",
		f.phase, f.round, f.system, f.rate(), f.cpuPerM(), f.rssMB, f.rows, f.wall.Round(time.Millisecond), f.cpu.Seconds(), f.load)
}

// wideDDL is the benchmark's table: ~1 KB rows of mixed column types.
const wideDDL = "CREATE TABLE wide (id INT PRIMARY KEY, name VARCHAR(64), n BIGINT, amount DECIMAL(12,2), ts DATETIME(6), " +
	"flag TINYINT, ratio DOUBLE, d DATE, note VARCHAR(1000))"

// insertWide inserts rows from..to (inclusive) into the wide table in
// 10,000-row statements.
func insertWide(src *cdcDB, from, to int) {
	for lo := from; lo <= to; lo += 10000 {
		src.exec(fmt.Sprintf("INSERT INTO wide SELECT seq, CONCAT('name-', seq), seq * 7, seq / 100, "+
			"'2026-01-01' + INTERVAL seq SECOND, seq %% 2, seq / 3, '2026-01-01' + INTERVAL seq %% 1000 DAY, "+
			"LEFT(REPEAT(MD5(seq), 30), 900) FROM seq_%d_to_%d", lo, min(lo+9999, to)))
	}
}

// writeWideLoad is writeBenchLoad for the wide table: rows/2 inserts,
// then rows/2 updates, in 10,000-row statements; it returns the changes
// written.
func writeWideLoad(src *cdcDB, rows int) int {
	half := rows / 2
	insertWide(src, 1, half)
	for lo := 1; lo <= half; lo += 10000 {
		src.exec("UPDATE wide SET n = n + 1, name = CONCAT(name, '+') WHERE id BETWEEN ? AND ?", lo, min(lo+9999, half))
	}
	return 2 * half
}

// dbzStreamingRound measures both systems streaming the same binlog range.
func dbzStreamingRound(t *testing.T, w *proc, c *connectProc, round, rows int, ferryFirst bool) []dbzFigure {
	t.Helper()
	src := newCDCDB(t, "dbzs")
	defer src.drop()
	src.exec(wideDDL)
	src.exec("CREATE TABLE warm (id INT PRIMARY KEY)")
	src.exec("INSERT INTO warm VALUES (1)")
	ferryTopic := newKafkaTopic(t, "ferry-dbz-stream", 6)
	defer ferryTopic.delete()
	prefix := fmt.Sprintf("dbzs%d_%d", os.Getpid(), round)
	dbzTopic := newKafkaTopicNamed(t, prefix+"."+src.name+".wide", 6)
	defer dbzTopic.delete()
	defer deleteTopics(t, dbzTopic.client, prefix+"."+src.name+".warm")

	fname, dname := fmt.Sprintf("ferry-stream-%d", round), fmt.Sprintf("dbz-stream-%d", round)
	pauseAfterSnapshot(t, w, src, []benchSink{{fname, ferryTopic.sinkConfig()}})
	defer w.do("DELETE", "/connectors/"+fname, nil)
	c.create(dname, c.config(src, prefix))
	defer c.do("DELETE", "/connectors/"+dname, nil)
	// The warm row in its topic: the snapshot is over. Stopping shuts the
	// task down and commits its offsets; the stored offset must say the
	// snapshot completed, or the resume would snapshot again.
	waitFor(t, "Debezium's snapshot of the warm table", 5*time.Minute, func() bool {
		return topicTotal(dbzTopic.client, prefix+"."+src.name+".warm") >= 1
	})
	c.stop(dname)
	off := c.offsets(dname)
	if !strings.Contains(off, `"file"`) || strings.Contains(off, `"snapshot":true`) {
		t.Fatalf("Debezium's stored offset after the snapshot: %s", off)
	}
	ferryBefore := ferryTopic.total()

	start := time.Now()
	changes := writeWideLoad(src, rows)
	t.Logf("round %d: load of %d changes written in %s", round, changes, time.Since(start).Round(time.Millisecond))

	ferry := func() dbzFigure {
		return measure(t, "streaming", "ferry", round, changes, w.cmd.Process.Pid, func() {
			if code, body := w.do("PUT", "/connectors/"+fname+"/resume", nil); code != http.StatusAccepted {
				t.Fatalf("resume: HTTP %d %s", code, body)
			}
		}, func() int64 { return ferryTopic.total() - ferryBefore })
	}
	dbz := func() dbzFigure {
		return measure(t, "streaming", "debezium", round, changes, c.cmd.Process.Pid, func() { c.resume(dname) }, dbzTopic.total)
	}
	return runPair(ferryFirst, ferry, dbz)
}

// dbzSnapshotRound measures both systems snapshotting the same table.
func dbzSnapshotRound(t *testing.T, w *proc, c *connectProc, round, rows int, ferryFirst bool) []dbzFigure {
	t.Helper()
	src := newCDCDB(t, "dbzn")
	defer src.drop()
	src.exec(wideDDL)
	start := time.Now()
	insertWide(src, 1, rows)
	t.Logf("round %d: snapshot table of %d rows written in %s", round, rows, time.Since(start).Round(time.Millisecond))
	ferryTopic := newKafkaTopic(t, "ferry-dbz-snap", 6)
	defer ferryTopic.delete()
	prefix := fmt.Sprintf("dbzn%d_%d", os.Getpid(), round)
	dbzTopic := newKafkaTopicNamed(t, prefix+"."+src.name+".wide", 6)
	defer dbzTopic.delete()

	fname, dname := fmt.Sprintf("ferry-snap-%d", round), fmt.Sprintf("dbz-snap-%d", round)
	ferry := func() dbzFigure {
		f := measure(t, "snapshot", "ferry", round, rows, w.cmd.Process.Pid, func() {
			w.createConnector(fname, merge(src.sourceConfig(), ferryTopic.sinkConfig()))
		}, ferryTopic.total)
		w.do("DELETE", "/connectors/"+fname, nil)
		return f
	}
	dbz := func() dbzFigure {
		f := measure(t, "snapshot", "debezium", round, rows, c.cmd.Process.Pid, func() { c.create(dname, c.config(src, prefix)) }, dbzTopic.total)
		c.do("DELETE", "/connectors/"+dname, nil)
		return f
	}
	return runPair(ferryFirst, ferry, dbz)
}

func runPair(ferryFirst bool, ferry, dbz func() dbzFigure) []dbzFigure {
	if ferryFirst {
		f := ferry()
		return []dbzFigure{f, dbz()}
	}
	d := dbz()
	return []dbzFigure{ferry(), d}
}

// measure runs start and waits until done reports n records, measuring
// the wall time, the CPU of process pid and its peak RSS in between.
func measure(t *testing.T, phase, system string, round, n, pid int, start func(), done func() int64) dbzFigure {
	t.Helper()
	la := loadavg()
	rss := sampleRSS(pid)
	cpu0, t0 := procCPU(t, pid), time.Now()
	start()
	deadline, lastLog := t0.Add(20*time.Minute), time.Now()
	for {
		got := done()
		if got >= int64(n) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s round %d: %d of %d records after 20 min", phase, system, round, got, n)
		}
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			t.Logf("%s %s round %d: %d of %d records", phase, system, round, got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	f := dbzFigure{phase: phase, system: system, round: round, rows: n, wall: time.Since(t0), cpu: procCPU(t, pid) - cpu0,
		rssMB: rss.Stop(), load: la + " → " + loadavg()}
	t.Logf("BENCH %s", f)
	return f
}

// drop drops the database now, rather than when the test ends, so that
// the rounds' tables do not pile up on the shared server.
func (d *cdcDB) drop() {
	d.t.Helper()
	d.exec("DROP DATABASE IF EXISTS " + d.name)
}

// delete deletes the topic now, rather than when the test ends.
func (tp *kafkaTopic) delete() { deleteTopics(tp.t, tp.client, tp.name) }

func deleteTopics(t testing.TB, client *kafkago.Client, names ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: names}); err != nil {
		t.Logf("delete topics %v: %v", names, err)
	}
}

// topicTotal is the number of records in a topic of unknown partition
// count (0 while it does not exist).
func topicTotal(client *kafkago.Client, name string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{name}})
	if err != nil || len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return 0
	}
	tp := &kafkaTopic{client: client, name: name, partitions: len(meta.Topics[0].Partitions)}
	return max(tp.total(), 0)
}

// connectProc is a Kafka Connect standalone worker with Debezium's MySQL
// connector, started by deploy/bench/debezium.sh.
type connectProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	dir  string
	done chan struct{}
	log  string
}

// startConnect starts the worker (resolving its jars from Maven Central
// on first use) and waits until its REST API answers.
func startConnect(t *testing.T, brokers []string) *connectProc {
	t.Helper()
	script, err := filepath.Abs("../../deploy/bench/debezium.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	c := &connectProc{t: t, url: "http://" + addr, dir: dir, done: make(chan struct{}), log: filepath.Join(dir, "connect.log")}
	logf, err := os.Create(c.log)
	if err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command(script, "worker", dir, port, strings.Join(brokers, ","))
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.cmd.Wait(); logf.Close(); close(c.done) }()
	t.Cleanup(func() {
		// The script execs the JVM: its pid is the worker's.
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			t.Logf("Connect log (%s):\n%s", c.log, c.logTail(6000))
		}
	})
	deadline := time.Now().Add(10 * time.Minute) // the first run downloads the jars
	for time.Now().Before(deadline) {
		if code, _ := c.get("/connector-plugins"); code == http.StatusOK {
			t.Logf("Kafka Connect ready (pid %d, %s)", c.cmd.Process.Pid, c.url)
			return c
		}
		select {
		case <-c.done:
			t.Fatalf("Kafka Connect exited during start-up:\n%s", c.logTail(4000))
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Fatalf("Kafka Connect's REST API did not answer within 10 min:\n%s", c.logTail(4000))
	return nil
}

func (c *connectProc) logTail(n int) string {
	b, _ := os.ReadFile(c.log)
	return tail(string(b), n)
}

func (c *connectProc) get(path string) (int, []byte) {
	resp, err := http.Get(c.url + path)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c *connectProc) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.url+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// config is the connector config of deploy/bench/debezium-mysql.json for
// database src, topics named <prefix>.<database>.<table>.
func (c *connectProc) config(src *cdcDB, prefix string) map[string]string {
	c.t.Helper()
	tmpl, err := os.ReadFile("../../deploy/bench/debezium-mysql.json")
	if err != nil {
		c.t.Fatal(err)
	}
	vars := map[string]string{
		"HOST": src.cfg.Host, "PORT": strconv.Itoa(src.cfg.Port), "USER": src.cfg.User, "PASSWORD": src.cfg.Password,
		"SERVER_ID": strconv.Itoa(100000 + rand.IntN(1<<30)), "DATABASE": src.name, "PREFIX": prefix, "DIR": c.dir,
	}
	var conf map[string]string
	if err := json.Unmarshal([]byte(os.Expand(string(tmpl), func(k string) string { return vars[k] })), &conf); err != nil {
		c.t.Fatalf("debezium-mysql.json: %v", err)
	}
	return conf
}

func (c *connectProc) create(name string, conf map[string]string) {
	c.t.Helper()
	if code, body := c.do("PUT", "/connectors/"+name+"/config", conf); code != http.StatusCreated && code != http.StatusOK {
		c.t.Fatalf("create %s: HTTP %d %s", name, code, body)
	}
}

// stop stops the connector (KIP-875: its task shut down, offsets
// committed) and waits until Connect reports it STOPPED.
func (c *connectProc) stop(name string) {
	c.t.Helper()
	if code, body := c.do("PUT", "/connectors/"+name+"/stop", nil); code != http.StatusAccepted && code != http.StatusNoContent {
		c.t.Fatalf("stop %s: HTTP %d %s", name, code, body)
	}
	waitFor(c.t, name+" stopped", time.Minute, func() bool {
		_, body := c.get("/connectors/" + name + "/status")
		return bytes.Contains(body, []byte(`"state":"STOPPED"`))
	})
}

func (c *connectProc) resume(name string) {
	c.t.Helper()
	if code, body := c.do("PUT", "/connectors/"+name+"/resume", nil); code != http.StatusAccepted {
		c.t.Fatalf("resume %s: HTTP %d %s", name, code, body)
	}
}

// offsets is a stopped connector's stored offsets, as JSON.
func (c *connectProc) offsets(name string) string {
	c.t.Helper()
	code, body := c.get("/connectors/" + name + "/offsets")
	if code != http.StatusOK {
		c.t.Fatalf("offsets %s: HTTP %d %s", name, code, body)
	}
	return string(body)
}
