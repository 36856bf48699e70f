package main

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// The start-up check tests misconfigure a server and expect the mysql-cdc
// task to be FAILED with a status trace that says what is wrong and how to
// fix it. All but the grants test use a scratch MariaDB
// (testbed.ScratchMariaDB): the shared one must keep its settings.

// checkWait bounds every wait for a task state: a start-up check answers
// within a second on a quiet machine, the CI machine is shared.
const checkWait = 60 * time.Second

// TestCDCStartupCheckGrants: a user without the replication privileges
// makes the mysql-cdc task FAILED with a status trace that names the
// missing grants and the GRANT statement to run for that account.
func TestCDCStartupCheckGrants(t *testing.T) {
	ferryBinary(t)
	cfg := testbed.MySQL(t)
	if cfg.RootPassword == "" {
		t.Skip("the test bed gives no root password: cannot create a user")
	}
	src := newCDCDB(t, "gsrc")
	src.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	root, err := sql.Open("mysql", fmt.Sprintf("root:%s@tcp(%s)/", cfg.RootPassword, cfg.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	user := fmt.Sprintf("ferry_norepl_%d", os.Getpid())
	for _, q := range []string{
		"DROP USER IF EXISTS '" + user + "'@'127.0.0.1'",
		"CREATE USER '" + user + "'@'127.0.0.1' IDENTIFIED BY 'pw-norepl'",
		"GRANT SELECT ON `" + src.name + "`.* TO '" + user + "'@'127.0.0.1'",
	} {
		if _, err := root.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { _, _ = root.Exec("DROP USER IF EXISTS '" + user + "'@'127.0.0.1'") })

	out := filepath.Join(t.TempDir(), "out.jsonl")
	w := startWorker(t, filepath.Join(t.TempDir(), "data"), freeAddr(t))
	conf := merge(src.sourceConfig(), map[string]string{
		"source.database.user": user, "source.database.password": "pw-norepl", "sink": "file", "sink.path": out,
	})
	w.createConnector("grants", conf)
	trace := w.waitTaskFailed("grants", "missing privileges")
	grant := "GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '" + user + "'@'127.0.0.1'"
	for _, want := range []string{"lacks REPLICATION SLAVE, BINLOG MONITOR on *.*", grant} {
		if !strings.Contains(trace, want) {
			t.Errorf("status trace lacks %q:\n%s", want, trace)
		}
	}

	// The GRANT the message names is valid SQL and enough.
	if _, err := root.Exec(grant); err != nil {
		t.Fatalf("the GRANT from the message: %v", err)
	}
	w.restartTask("grants")
	w.waitTaskRunning("grants")
	src.exec("INSERT INTO t VALUES (1)")
	w.waitFor("grants", checkWait, "row 1 captured after the GRANT", func() bool {
		ev := fileEvents(t, out)
		return ev.has(1, "r") || ev.has(1, "c")
	})
}

// TestCDCStartupCheckBinlogDisabled: a server without a binary log makes
// the task FAILED with a trace telling to enable log_bin and restart the
// server (log_bin is not dynamic, so this one needs its own server).
func TestCDCStartupCheckBinlogDisabled(t *testing.T) {
	ferryBinary(t)
	src := newScratchCDCDB(t, testbed.ScratchMariaDB(t, "--skip-log-bin"))
	src.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	w := startWorker(t, filepath.Join(t.TempDir(), "data"), freeAddr(t))
	w.createConnector("nobinlog", merge(src.sourceConfig(), map[string]string{"sink": "drop"}))
	trace := w.waitTaskFailed("nobinlog", "binary logging is disabled")
	for _, want := range []string{"log_bin is OFF", "log_bin=mysql-bin", "non-zero server_id", "my.cnf", "restart", "cannot be changed at run time"} {
		if !strings.Contains(trace, want) {
			t.Errorf("status trace lacks %q:\n%s", want, trace)
		}
	}
}

// TestCDCStartupCheckBinlogSettings runs one connector against one scratch
// server and, for each wrong binlog_format, binlog_row_image and
// binlog_row_metadata, sets it with SET GLOBAL, restarts the task and
// expects FAILED with the setting's message; then it runs the SET GLOBAL
// the message names, restarts the task again and expects a new row to
// arrive, which proves the remedy in the message is right and enough.
func TestCDCStartupCheckBinlogSettings(t *testing.T) {
	ferryBinary(t)
	cfg := testbed.ScratchMariaDB(t)
	root := openScratchRoot(t, cfg)
	src := newScratchCDCDB(t, cfg)
	src.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
	src.exec("INSERT INTO t VALUES (1, 'snapshot')")
	out := filepath.Join(t.TempDir(), "out.jsonl")
	w := startWorker(t, filepath.Join(t.TempDir(), "data"), freeAddr(t))
	w.createConnector("settings", merge(src.sourceConfig(), map[string]string{"sink": "file", "sink.path": out}))
	// Control: the server as it starts passes the checks.
	w.waitFor("settings", checkWait, "row 1 captured", func() bool { return fileEvents(t, out).has(1, "r") })

	setGlobal := regexp.MustCompile(`SET GLOBAL (\w+)='(\w+)'`)
	cases := []struct {
		variable, value string
		says            []string
	}{
		{"binlog_format", "STATEMENT", []string{"binlog_format is not ROW (it is STATEMENT)", "binlog_format=ROW under [mysqld] in my.cnf", "reconnect"}},
		{"binlog_format", "MIXED", []string{"binlog_format is not ROW (it is MIXED)"}},
		{"binlog_row_image", "MINIMAL", []string{"binlog_row_image is not FULL (it is MINIMAL)", "binlog_row_image=FULL under [mysqld] in my.cnf", "every column"}},
		{"binlog_row_image", "NOBLOB", []string{"binlog_row_image is not FULL (it is NOBLOB)"}},
		{"binlog_row_metadata", "MINIMAL", []string{"binlog_row_metadata is not FULL (it is MINIMAL)", "column names"}},
		{"binlog_row_metadata", "NO_LOG", []string{"binlog_row_metadata is not FULL (it is NO_LOG)"}},
	}
	for i, c := range cases {
		t.Run(c.variable+"="+c.value, func(t *testing.T) {
			good := map[string]string{"binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL"}[c.variable]
			// Whatever happens, the next case starts from a good server.
			t.Cleanup(func() { _, _ = root.Exec(fmt.Sprintf("SET GLOBAL %s='%s'", c.variable, good)) })
			if _, err := root.Exec(fmt.Sprintf("SET GLOBAL %s='%s'", c.variable, c.value)); err != nil {
				t.Fatal(err)
			}
			w.restartTask("settings")
			trace := w.waitTaskFailed("settings", c.variable+" is not")
			for _, want := range c.says {
				if !strings.Contains(trace, want) {
					t.Errorf("status trace lacks %q:\n%s", want, trace)
				}
			}
			fix := setGlobal.FindString(trace)
			if want := fmt.Sprintf("SET GLOBAL %s='%s'", c.variable, good); fix != want {
				t.Fatalf("the trace names %q as the fix, want %q:\n%s", fix, want, trace)
			}
			if _, err := root.Exec(fix); err != nil {
				t.Fatalf("%s: %v", fix, err)
			}
			w.restartTask("settings")
			w.waitTaskRunning("settings")
			// The insert runs on a new connection (newScratchCDCDB keeps
			// none idle): one opened under the bad setting would keep it.
			id := 100 + i
			src.exec("INSERT INTO t VALUES (?, 'after the fix')", id)
			w.waitFor("settings", checkWait, fmt.Sprintf("row %d captured after %s", id, fix), func() bool {
				return fileEvents(t, out).has(id, "c")
			})
		})
	}
}

// TestCDCStartupCheckPurged: a connector whose committed binlog file was
// purged while it was stopped fails with a trace naming the file and
// source.snapshot.mode=when_needed; with that mode it takes a new
// snapshot (rows written meanwhile included) and streams again.
func TestCDCStartupCheckPurged(t *testing.T) {
	ferryBinary(t)
	cfg := testbed.ScratchMariaDB(t)
	root := openScratchRoot(t, cfg)
	src := newScratchCDCDB(t, cfg)
	src.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
	src.exec("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
	out := filepath.Join(t.TempDir(), "out.jsonl")
	w := startWorker(t, filepath.Join(t.TempDir(), "data"), freeAddr(t))
	w.createConnector("purged", merge(src.sourceConfig(), map[string]string{"sink": "file", "sink.path": out}))
	w.waitFor("purged", checkWait, "snapshot of rows 1-3", func() bool {
		ev := fileEvents(t, out)
		return ev.has(1, "r") && ev.has(2, "r") && ev.has(3, "r")
	})
	src.exec("INSERT INTO t VALUES (4, 'streamed')")
	w.waitFor("purged", checkWait, "row 4 streamed", func() bool { return fileEvents(t, out).has(4, "c") })

	// A stop commits the position of the last record (row 4's insert).
	if code, body := w.do("PUT", "/connectors/purged/stop", nil); code != http.StatusNoContent {
		t.Fatalf("stop: HTTP %d %s", code, body)
	}
	w.waitFor("purged", checkWait, "connector STOPPED", func() bool {
		st, _ := w.connectorState("purged")
		return st == "STOPPED"
	})
	var committed struct {
		File     string          `json:"file"`
		Snapshot json.RawMessage `json:"snapshot"`
	}
	pos := w.committedPosition("purged")
	if err := json.Unmarshal([]byte(pos), &committed); err != nil || committed.File == "" || committed.Snapshot != nil {
		t.Fatalf("committed position %q: want a streaming position with a binlog file (%v)", pos, err)
	}
	if _, err := root.Exec("FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	files := binlogNames(t, root)
	current := files[len(files)-1]
	if current == committed.File {
		t.Fatalf("FLUSH BINARY LOGS did not move past %s", current)
	}
	// The server keeps a file a binlog dump thread still reads, and the
	// stopped task's thread may take a moment to end: purge until it is
	// gone.
	deadline, attempts := time.Now().Add(checkWait), 0
	for slices.Contains(files, committed.File) {
		attempts++
		if time.Now().After(deadline) {
			t.Fatalf("%s still listed after PURGE BINARY LOGS TO '%s': %v", committed.File, current, files)
		}
		if _, err := root.Exec("PURGE BINARY LOGS TO '" + current + "'"); err != nil {
			t.Fatal(err)
		}
		if files = binlogNames(t, root); slices.Contains(files, committed.File) {
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("purged %s (PURGE BINARY LOGS run %d times); binlogs now %v", committed.File, attempts, files)
	src.exec("INSERT INTO t VALUES (5, 'while stopped')")

	if code, body := w.do("PUT", "/connectors/purged/resume", nil); code != http.StatusAccepted {
		t.Fatalf("resume: HTTP %d %s", code, body)
	}
	trace := w.waitTaskFailed("purged", "has been purged")
	for _, want := range []string{committed.File + " is no longer on the server", "source.snapshot.mode=when_needed"} {
		if !strings.Contains(trace, want) {
			t.Errorf("status trace lacks %q:\n%s", want, trace)
		}
	}

	// The remedy the message names: a config change restarts the task.
	if code, body := w.do("PATCH", "/connectors/purged/config", map[string]any{"source.snapshot.mode": "when_needed"}); code != http.StatusOK {
		t.Fatalf("patch config: HTTP %d %s", code, body)
	}
	w.waitTaskRunning("purged")
	w.waitFor("purged", checkWait, "new snapshot of rows 1-5", func() bool {
		ev := fileEvents(t, out)
		return ev.count(1, "r") >= 2 && ev.count(2, "r") >= 2 && ev.count(3, "r") >= 2 && ev.has(4, "r") && ev.has(5, "r")
	})
	src.exec("INSERT INTO t VALUES (6, 'after the snapshot')")
	w.waitFor("purged", checkWait, "row 6 streamed", func() bool { return fileEvents(t, out).has(6, "c") })
	// Rows 1-3: first snapshot and the new one; row 4 streamed, then in
	// the new snapshot; row 5 (written while the position was lost) only
	// in the new snapshot, which the stream starts after; row 6 streamed.
	ev := fileEvents(t, out)
	want := opsByID{1: {"r": 2}, 2: {"r": 2}, 3: {"r": 2}, 4: {"c": 1, "r": 1}, 5: {"r": 1}, 6: {"c": 1}}
	if fmt.Sprint(ev) != fmt.Sprint(want) {
		t.Errorf("events by row and op = %v, want %v", ev, want)
	}
}

// waitTaskFailed waits until the connector's one task is FAILED with a
// trace containing marker and returns the trace. A FAILED task with
// another trace fails the test at once.
func (w *proc) waitTaskFailed(connector, marker string) string {
	w.t.Helper()
	deadline := time.Now().Add(checkWait)
	for {
		st, tasks := w.connectorState(connector)
		if len(tasks) == 1 && strings.HasPrefix(tasks[0], "FAILED") {
			if !strings.Contains(tasks[0], marker) {
				w.t.Fatalf("task FAILED without %q in its trace:\n%s", marker, tasks[0])
			}
			w.t.Logf("connector %s, task %s", st, tail(tasks[0], 600))
			return tasks[0]
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("task not FAILED within %s: connector %s, tasks %v", checkWait, st, tasks)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitTaskRunning waits until the connector's one task is RUNNING. Right
// after a restart the status still shows the last run's FAILED, so unlike
// waitFor it does not stop at FAILED. The worker reports RUNNING before the
// source's Open, so callers prove the run with data.
func (w *proc) waitTaskRunning(connector string) {
	w.t.Helper()
	deadline := time.Now().Add(checkWait)
	for {
		st, tasks := w.connectorState(connector)
		if len(tasks) == 1 && strings.HasPrefix(tasks[0], "RUNNING") {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("task not RUNNING within %s: connector %s, tasks %v", checkWait, st, tasks)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// restartTask restarts the connector's task 0, which opens its source
// again and so runs the start-up checks again.
func (w *proc) restartTask(connector string) {
	w.t.Helper()
	if code, body := w.do("POST", "/connectors/"+connector+"/tasks/0/restart", nil); code != http.StatusNoContent {
		w.t.Fatalf("restart task: HTTP %d %s", code, body)
	}
}

// newScratchCDCDB is a database ferry_checks_… on a scratch server, for
// the cdcDB helpers. Its pool keeps no idle connection, so every
// statement runs in a new session with the server's current global
// binlog settings.
func newScratchCDCDB(t *testing.T, cfg testbed.MySQLConfig) *cdcDB {
	t.Helper()
	name := testbed.Database(t, cfg, "ferry_checks")
	db, err := sql.Open("mysql", cdcDSN(cfg, name))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxIdleConns(0)
	t.Cleanup(func() { db.Close() })
	return &cdcDB{t: t, cfg: cfg, name: name, db: db}
}

func openScratchRoot(t *testing.T, cfg testbed.MySQLConfig) *sql.DB {
	t.Helper()
	root, err := sql.Open("mysql", cfg.RootDSN(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root
}

// binlogNames lists the files SHOW BINARY LOGS lists, oldest first.
func binlogNames(t *testing.T, root *sql.DB) []string {
	t.Helper()
	var names []string
	for _, row := range testbed.QueryRows(t, root, "SHOW BINARY LOGS") {
		names = append(names, row[0])
	}
	if len(names) == 0 {
		t.Fatal("SHOW BINARY LOGS lists no file")
	}
	return names
}

// opsByID counts a file sink's change events by row id and op.
type opsByID map[int]map[string]int

func (o opsByID) has(id int, op string) bool  { return o[id][op] > 0 }
func (o opsByID) count(id int, op string) int { return o[id][op] }

// fileEvents reads the change events a file sink wrote so far, keyed by
// the after image's id column. A torn last line (the sink is writing) is
// left for the next call.
func fileEvents(t *testing.T, path string) opsByID {
	t.Helper()
	out := opsByID{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	for sc.Scan() {
		var ev cdcEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		var after struct {
			ID json.Number `json:"id"`
		}
		if json.Unmarshal(ev.Data.After, &after) != nil {
			continue
		}
		id, err := strconv.Atoi(after.ID.String())
		if err != nil {
			continue
		}
		if out[id] == nil {
			out[id] = map[string]int{}
		}
		out[id][ev.Data.Op]++
	}
	return out
}
