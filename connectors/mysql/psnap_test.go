package mysql_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/testbed"

	cdc "github.com/ferryhq/ferry/connectors/mysql"
)

// snapshotState is the part of a position the parallel snapshot tests
// look at.
type snapshotState struct {
	Snapshot *struct {
		Table string `json:"table"`
		Open  []struct {
			Table string `json:"table"`
		} `json:"open"`
	} `json:"snapshot"`
}

func snapState(t testing.TB, r api.Record) snapshotState {
	t.Helper()
	var s snapshotState
	if err := json.Unmarshal(r.Position, &s); err != nil {
		t.Fatalf("position %s: %v", r.Position, err)
	}
	return s
}

// readUntil reads and acknowledges batches until stop accepts a record,
// failing after a timeout.
func readUntil(t testing.TB, src api.Source, stop func(api.Record) bool) []api.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out []api.Record
	for {
		batch, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("Read after %d records: %v", len(out), err)
		}
		ackBatch(t, src, batch)
		out = append(out, batch...)
		for _, r := range batch {
			if stop(r) {
				return out
			}
		}
	}
}

// TestParallelSnapshot snapshots several tables with three readers while a
// writer keeps committing, and checks that every row arrives exactly once
// as a read, that the readers saw one instant (two tables a transaction
// updates together show the same counter), and that streaming then carries
// every change after that instant, none twice: the writer's updates and
// changes made while the snapshot was being read.
func TestParallelSnapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.exec(t, "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20))",
		"CREATE TABLE b (k1 INT, k2 VARCHAR(10), PRIMARY KEY (k1, k2))",
		"CREATE TABLE c (id INT PRIMARY KEY, n INT)",
		"CREATE TABLE d (v INT)", // no primary key
		"CREATE TABLE e (id INT PRIMARY KEY)",
		"CREATE TABLE w1 (id INT PRIMARY KEY, n INT)",
		"CREATE TABLE w2 (id INT PRIMARY KEY, n INT)",
		"INSERT INTO w1 VALUES (1, 0)", "INSERT INTO w2 VALUES (1, 0)")
	want := map[string]bool{} // subject + key of every row at the start
	for i := range 37 {
		e.exec(t, fmt.Sprintf("INSERT INTO a VALUES (%d, 'v%d')", i, i))
		want[fmt.Sprintf(`a{"id":%d}`, i)] = true
	}
	for i := range 12 {
		e.exec(t, fmt.Sprintf("INSERT INTO b VALUES (%d, 'k%d')", i%4, i))
		want[fmt.Sprintf(`b{"k1":%d,"k2":"k%d"}`, i%4, i)] = true
	}
	for i := range 58 {
		e.exec(t, fmt.Sprintf("INSERT INTO c VALUES (%d, %d)", i, i))
		want[fmt.Sprintf(`c{"id":%d}`, i)] = true
	}
	for i := range 9 {
		e.exec(t, fmt.Sprintf("INSERT INTO d VALUES (%d)", i))
	}
	want[`w1{"id":1}`], want[`w2{"id":1}`] = true, true

	// The writer commits w1 and w2 together while the snapshot opens.
	stop := bumpPairs(t, e, 1)
	time.Sleep(50 * time.Millisecond) // let the writer get going; not an assertion
	src := mustOpen(t, e.config("snapshot.max.threads", "3", "snapshot.chunk.size", "5", "batch.size", "7"), nil)
	stop()

	first := readN(t, src, 1)
	// Changes while the snapshot is being read: not in its view, streamed
	// after it.
	e.exec(t, "INSERT INTO a VALUES (1000, 'new')", "UPDATE c SET n = -1 WHERE id = 57", "DELETE FROM b WHERE k1 = 0 AND k2 = 'k0'",
		"INSERT INTO e VALUES (1)")
	recs := append(first, readUntil(t, src, func(r api.Record) bool { return r.Event.Subject == e.name+".e" })...)

	got := map[string]bool{}
	ids := map[string]bool{}
	dRows, parallel, streamed := 0, false, false
	snapN := map[string]int{}
	updates := map[string][]int{} // w1/w2 counters after each streamed update
	var others []string
	for _, r := range recs {
		env := decode(t, r)
		table := strings.TrimPrefix(r.Event.Subject, e.name+".")
		if ids[r.Event.ID] {
			t.Errorf("event id %s twice", r.Event.ID)
		}
		ids[r.Event.ID] = true
		if env.Op != "r" {
			streamed = true
			if table == "w1" || table == "w2" {
				var n int
				_ = json.Unmarshal(env.After["n"], &n)
				updates[table] = append(updates[table], n)
			} else {
				others = append(others, env.Op+":"+table)
			}
			continue
		}
		if streamed {
			t.Fatalf("snapshot record %s after streaming began", r.Event.ID)
		}
		if len(snapState(t, r).Snapshot.Open) > 0 {
			parallel = true
		}
		if table == "d" {
			dRows++
			continue
		}
		k := table + string(r.Key)
		if got[k] {
			t.Errorf("row %s read twice", k)
		}
		got[k] = true
		if table == "w1" || table == "w2" {
			var n int
			_ = json.Unmarshal(env.After["n"], &n)
			snapN[table] = n
		}
	}
	if len(got) != len(want) || dRows != 9 {
		t.Errorf("snapshot read %d keyed rows and %d rows of d; want %d and 9", len(got), dRows, len(want))
	}
	for k := range want {
		if !got[k] {
			t.Errorf("snapshot missed %s", k)
		}
	}
	if !parallel {
		t.Error("no snapshot position names another table in progress: the tables were not read in parallel")
	}
	if snapN["w1"] != snapN["w2"] {
		t.Errorf("snapshot saw w1.n=%d and w2.n=%d: the readers' views are not one instant", snapN["w1"], snapN["w2"])
	}
	// Streaming continues exactly after the instant the snapshot saw.
	for _, w := range []string{"w1", "w2"} {
		for i, n := range updates[w] {
			if n != snapN[w]+i+1 {
				t.Fatalf("%s: streamed counters %v after snapshot value %d: not contiguous", w, updates[w], snapN[w])
			}
		}
	}
	if len(updates["w1"]) != len(updates["w2"]) {
		t.Errorf("streamed %d updates of w1, %d of w2", len(updates["w1"]), len(updates["w2"]))
	}
	if fmt.Sprint(others) != "[c:a u:c d:b c:e]" {
		t.Errorf("changes during the snapshot streamed as %v, want [c:a u:c d:b c:e]", others)
	}
	t.Logf("snapshot w1.n=%d; %d writer updates streamed after it", snapN["w1"], len(updates["w1"]))
}

// TestParallelSnapshotResume stops a two-reader snapshot after a
// committed position in the middle of the interleaved tables and checks
// the resumed one reads exactly the rows after it: no row of a completed
// table, no chunk before a table's committed key, and with the SELECT
// count that the remaining rows need.
func TestParallelSnapshotResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sizes := map[string]int{"t1": 23, "t2": 4, "t3": 31, "t4": 12, "t5": 17}
	total := 0
	for name, n := range sizes {
		e.exec(t, fmt.Sprintf("CREATE TABLE %s (id INT PRIMARY KEY, v VARCHAR(20))", name))
		for i := 1; i <= n; i++ {
			e.exec(t, fmt.Sprintf("INSERT INTO %s VALUES (%d, 'x')", name, i))
		}
		total += n
	}
	const limit = 5
	raw := e.config("snapshot.mode", "initial_only", "snapshot.max.threads", "2",
		"snapshot.chunk.size", fmt.Sprint(limit), "batch.size", fmt.Sprint(limit))

	src := mustOpen(t, raw, nil)
	var recs []api.Record
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(recs) < 45 {
		batch, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, batch...)
	}
	// Commit the first record from 30 on whose position has another table
	// in progress, as the engine's watermark would.
	k := 30
	for len(snapState(t, recs[k]).Snapshot.Open) == 0 {
		k++
	}
	committed := recs[k]
	ackBatch(t, src, []api.Record{committed})
	_ = src.Close(context.Background())

	prefix := map[string]bool{}
	inPrefix := map[string]int{}
	for _, r := range recs[:k+1] {
		prefix[r.Event.ID] = true
		inPrefix[strings.TrimPrefix(r.Event.Subject, e.name+".")]++
	}
	src2 := mustOpen(t, raw, map[string]api.Position{committed.Partition: committed.Position})
	rest := map[string]bool{}
	for {
		batch, err := src2.Read(ctx)
		if errors.Is(err, api.ErrEndOfInput) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ackBatch(t, src2, batch)
		for _, r := range batch {
			if prefix[r.Event.ID] {
				t.Errorf("resumed snapshot read %s again", r.Event.ID)
			}
			rest[r.Event.ID] = true
		}
	}
	if len(prefix)+len(rest) != total {
		t.Errorf("committed %d + resumed %d rows, want %d", len(prefix), len(rest), total)
	}
	queries := cdc.SnapshotQueries(src2)
	completed := 0
	for name, n := range sizes {
		want := chunkSelects(inPrefix[name], n, limit)
		if inPrefix[name] == n {
			want = 0 // no size is a multiple of limit: its last record said done
			completed++
		}
		if got := queries[e.name+"."+name]; got != want {
			t.Errorf("%s: %d of %d rows committed; resumed with %d chunk SELECTs, want %d", name, inPrefix[name], n, got, want)
		}
	}
	if completed == 0 || completed == len(sizes) {
		t.Errorf("%d tables complete at the commit: the test needs some, not all", completed)
	}
	t.Logf("committed record %d at %s; resumed SELECTs %v", k, committed.Position, queries)
}

// chunkSelects is how many SELECTs read the rows after the first done of
// a table of n rows: the rest of the chunk done ended in, then chunks of
// limit until one comes back short.
func chunkSelects(done, n, limit int) int {
	left, size := n-done, limit-done%limit
	for q := 1; ; q++ {
		got := min(size, left)
		if got < size {
			return q
		}
		left, size = left-got, limit
	}
}

// logLines is a slog handler that keeps every message.
type logLines struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logLines) WithGroup(string) slog.Handler            { return l }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}

func (l *logLines) has(prefix string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// TestParallelSnapshotWithoutReload runs a three-thread snapshot as a
// user without RELOAD while writers keep committing: the readers cannot
// open at one instant without the global read lock, which needs RELOAD,
// so the snapshot must fall back to one reader and stay consistent.
func TestParallelSnapshotWithoutReload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if e.cfg.RootPassword == "" {
		t.Skip("no root password in the test bed env")
	}
	root := rootDB(t, e.cfg)
	user := fmt.Sprintf("noreload%d", rand.Uint32N(1e6))
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY 'pw'", user),
		fmt.Sprintf("GRANT SELECT, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '%s'@'127.0.0.1'", user),
	} {
		if _, err := root.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { _, _ = root.Exec(fmt.Sprintf("DROP USER '%s'@'127.0.0.1'", user)) })
	e.exec(t, "CREATE TABLE w1 (id INT PRIMARY KEY, n INT)", "CREATE TABLE w2 (id INT PRIMARY KEY, n INT)",
		"CREATE TABLE x (id INT PRIMARY KEY)", "INSERT INTO w1 VALUES (1, 0)", "INSERT INTO w2 VALUES (1, 0)",
		"INSERT INTO x VALUES (1), (2), (3)")

	recs, logs := snapshotUnderWriters(t, e, e.config("database.user", user, "database.password", "pw",
		"snapshot.mode", "initial_only", "snapshot.max.threads", "3"))
	if !logs.has("snapshot readers could not share an instant") {
		t.Errorf("no fall-back to one reader logged: %v", logs.msgs)
	}
	n := map[string]string{}
	for _, r := range recs {
		if s := snapState(t, r); len(s.Snapshot.Open) > 0 {
			t.Errorf("record %s names other tables in progress: more than one reader", r.Event.ID)
		}
		n[strings.TrimPrefix(r.Event.Subject, e.name+".")] = string(decode(t, r).After["n"])
	}
	if len(recs) != 5 || n["w1"] != n["w2"] {
		t.Errorf("%d records, w1.n=%s w2.n=%s; want 5 and equal counters", len(recs), n["w1"], n["w2"])
	}
}

// snapshotUnderWriters takes the initial_only snapshot raw describes while
// two writers keep updating w1 and w2 together, with the lock-free
// openings made to fail (the writers may leave the readers a quiet
// instant), and returns its records and log messages.
func snapshotUnderWriters(t *testing.T, e *env, raw map[string]string) ([]api.Record, *logLines) {
	t.Helper()
	stop := bumpPairs(t, e, 2)
	time.Sleep(20 * time.Millisecond) // let the writers get going; not an assertion
	logs := &logLines{}
	c, err := cdc.Source.Spec.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	src, err := cdc.Source.New(api.TaskConfig{Connector: "cdc-test", Tasks: 1, Config: c, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	cdc.SetLockFreeAttempts(src, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = src.Open(ctx)
	stop()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer src.Close(context.Background())
	var recs []api.Record
	for {
		batch, err := src.Read(ctx)
		if errors.Is(err, api.ErrEndOfInput) {
			return recs, logs
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, batch...)
	}
}

// bumpPairs starts n writers that each keep incrementing w1.n and w2.n in
// one transaction, so a consistent read sees them equal. The returned
// stop ends them; they also end when the test does (even if Open fails).
func bumpPairs(t *testing.T, e *env, n int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stop = func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				tx, err := e.db.Begin()
				if err != nil {
					t.Error(err)
					return
				}
				_, err1 := tx.Exec("UPDATE w1 SET n = n + 1")
				_, err2 := tx.Exec("UPDATE w2 SET n = n + 1")
				if err := errors.Join(err1, err2, tx.Commit()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	return stop
}

// TestSnapshotLockingNone runs three-thread snapshots on a scratch MariaDB
// while writers commit, as a user who holds RELOAD, with the lock-free
// openings made to fail (no attempts): with snapshot.locking.mode=minimal
// the snapshot runs one FLUSH TABLES WITH READ LOCK (Com_flush moves by
// one, the control), which either opens the readers or, when a writer in
// mid-transaction and the lock wait for each other, runs out of
// snapshot.lock.timeout.ms and leaves one reader; with none the server
// runs no FLUSH and the snapshot falls back to one reader. All stay
// consistent: two tables a transaction updates together are read at the
// same value.
func TestSnapshotLockingNone(t *testing.T) {
	t.Parallel()
	e := newEnvOn(t, testbed.ScratchMariaDB(t))
	e.exec(t, "CREATE TABLE w1 (id INT PRIMARY KEY, n INT)", "CREATE TABLE w2 (id INT PRIMARY KEY, n INT)",
		"CREATE TABLE x (id INT PRIMARY KEY)", "INSERT INTO w1 VALUES (1, 0)", "INSERT INTO w2 VALUES (1, 0)",
		"INSERT INTO x VALUES (1), (2), (3)")
	flushes := func() int {
		var name string
		var n int
		if err := e.db.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_flush'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct {
		mode     string
		flushes  int
		fallback string
	}{
		{"minimal", 1, ""},
		{"none", 0, "snapshot readers could not share an instant without FLUSH TABLES WITH READ LOCK, which snapshot.locking.mode=none forbids"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			before := flushes()
			recs, logs := snapshotUnderWriters(t, e, e.config("snapshot.mode", "initial_only", "snapshot.max.threads", "3",
				"snapshot.locking.mode", c.mode, "snapshot.lock.timeout.ms", "1000"))
			n := map[string]string{}
			oneReader := true
			for _, r := range recs {
				n[strings.TrimPrefix(r.Event.Subject, e.name+".")] = string(decode(t, r).After["n"])
				oneReader = oneReader && len(snapState(t, r).Snapshot.Open) == 0
			}
			if len(recs) != 5 || n["w1"] != n["w2"] {
				t.Errorf("%d records, w1.n=%s w2.n=%s; want 5 and equal counters", len(recs), n["w1"], n["w2"])
			}
			if got := flushes() - before; got != c.flushes {
				t.Errorf("the server ran %d FLUSH statements, want %d", got, c.flushes)
			}
			if c.fallback != "" && (!logs.has(c.fallback) || !oneReader) {
				t.Errorf("no fall-back to one reader (logged: %v, one reader: %v)", logs.msgs, oneReader)
			}
		})
	}
}
