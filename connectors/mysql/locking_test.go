package mysql

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	mysqlserver "github.com/go-mysql-org/go-mysql/server"
	drv "github.com/go-sql-driver/mysql"

	"github.com/ferryhq/ferry/api"
)

// fakeMySQL speaks the MySQL protocol (go-mysql's server package) and
// answers the statements a MySQL snapshot's opening runs, recording them
// in the order they arrive, so the lock-free opening can be checked
// without a MySQL server (the test bed has MariaDB only).
type fakeMySQL struct {
	gtidExecuted string // @@GLOBAL.gtid_executed
	lockErr      uint16 // FLUSH TABLES WITH READ LOCK fails with this code (0: succeeds)

	ln net.Listener
	wg sync.WaitGroup
	mu sync.Mutex
	// log holds "<conn>: <statement>" lines.
	log []string
}

func startFakeMySQL(t *testing.T, gtidExecuted string, lockErr uint16) *fakeMySQL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeMySQL{gtidExecuted: gtidExecuted, lockErr: lockErr, ln: ln}
	srv := mysqlserver.NewServer("8.0.36", gmysql.DEFAULT_COLLATION_ID, gmysql.AUTH_NATIVE_PASSWORD, nil, nil)
	f.wg.Go(func() {
		for id := 1; ; id++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Go(func() {
				defer nc.Close()
				c, err := srv.NewConn(nc, "u", "", &fakeHandler{f: f, id: id})
				if err != nil {
					return
				}
				for c.HandleCommand() == nil {
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakeMySQL) statements() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

type fakeHandler struct {
	mysqlserver.EmptyHandler
	f  *fakeMySQL
	id int
}

func (h *fakeHandler) HandleQuery(q string) (*gmysql.Result, error) {
	h.f.mu.Lock()
	h.f.log = append(h.f.log, string(rune('0'+h.id))+": "+q)
	h.f.mu.Unlock()
	one := func(names []string, row ...any) (*gmysql.Result, error) {
		rs, err := gmysql.BuildSimpleTextResultset(names, [][]any{row})
		if err != nil {
			return nil, err
		}
		return gmysql.NewResult(rs), nil
	}
	switch {
	case q == "SELECT @@GLOBAL.gtid_executed":
		return one([]string{"@@GLOBAL.gtid_executed"}, h.f.gtidExecuted)
	case q == "SELECT VERSION()":
		return one([]string{"VERSION()"}, "8.0.36")
	case q == "SHOW MASTER STATUS":
		return one([]string{"File", "Position", "Binlog_Do_DB", "Binlog_Ignore_DB", "Executed_Gtid_Set"},
			"binlog.000042", "157", "", "", h.f.gtidExecuted)
	case q == "FLUSH TABLES WITH READ LOCK" && h.f.lockErr != 0:
		return nil, gmysql.NewError(h.f.lockErr, "fake: the lock is not granted")
	case strings.HasPrefix(q, "SET "), q == "FLUSH TABLES WITH READ LOCK", q == "UNLOCK TABLES",
		q == "START TRANSACTION WITH CONSISTENT SNAPSHOT", q == "ROLLBACK":
		return nil, nil
	}
	return nil, gmysql.NewError(1064, "fake: unexpected statement "+q)
}

// errLockWait matches the server's lock wait timeout.
var errLockWait = &drv.MySQLError{Number: 1205}

// openOnFake runs a snapshot's opening against f with two readers.
func openOnFake(t *testing.T, f *fakeMySQL, locking, mode string, gtid bool) (*snapshotter, []string, error) {
	t.Helper()
	c := drv.NewConfig()
	c.User, c.Net, c.Addr = "u", "tcp", f.ln.Addr().String()
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := &source{cfg: &settings{threads: 2, locking: locking, snapshotMode: mode, lockTimeout: 10 * time.Second},
		log: slog.New(slog.DiscardHandler), info: &serverInfo{flavor: "mysql", gtid: gtid}}
	sn := &snapshotter{s: s}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 2 {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sn.conns = append(sn.conns, conn)
	}
	err = sn.begin(ctx, nil)
	for _, conn := range sn.conns {
		conn.Close()
	}
	var stmts []string
	for _, l := range f.statements() {
		if _, q, _ := strings.Cut(l, ": "); !strings.HasPrefix(q, "SET ") {
			stmts = append(stmts, l)
		}
	}
	return sn, stmts, err
}

// TestMySQLSnapshotLocking checks how a MySQL snapshot opens its two
// readers for each snapshot.locking.mode, with the lock allowed or
// refused, with and without GTIDs: the statements in order (which
// connection ran them) and the position streaming would continue from.
func TestMySQLSnapshotLocking(t *testing.T) {
	t.Parallel()
	const gtids = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-41"
	cases := []struct {
		name     string
		locking  string
		mode     string // snapshot.mode; initial when empty
		gtid     bool
		executed string
		lockErr  uint16
		want     []string
		start    position
		locked   bool
		err      error
		fatal    bool
		mention  []string
	}{
		{name: "minimal, lock allowed", locking: LockingMinimal, gtid: true, executed: gtids,
			want: []string{"1: FLUSH TABLES WITH READ LOCK", "1: START TRANSACTION WITH CONSISTENT SNAPSHOT",
				"2: START TRANSACTION WITH CONSISTENT SNAPSHOT", "1: SELECT VERSION()", "1: SHOW MASTER STATUS",
				"1: SELECT @@GLOBAL.gtid_executed", "1: UNLOCK TABLES"},
			start: position{File: "binlog.000042", Pos: 157, GTIDs: gtids}, locked: true},
		// gtid_executed is read before any reader opens: every transaction in
		// it is committed in the engine, so both snapshots see it.
		{name: "none", locking: LockingNone, gtid: true, executed: gtids,
			want: []string{"1: SELECT @@GLOBAL.gtid_executed", "1: SELECT VERSION()", "1: SHOW MASTER STATUS",
				"1: START TRANSACTION WITH CONSISTENT SNAPSHOT", "2: START TRANSACTION WITH CONSISTENT SNAPSHOT"},
			start: position{File: "binlog.000042", Pos: 157, GTIDs: gtids}},
		{name: "minimal, lock refused: none chosen", locking: LockingMinimal, gtid: true, executed: gtids, lockErr: 1227,
			want: []string{"1: FLUSH TABLES WITH READ LOCK", "1: ROLLBACK", "2: ROLLBACK",
				"1: SELECT @@GLOBAL.gtid_executed", "1: SELECT VERSION()", "1: SHOW MASTER STATUS",
				"1: START TRANSACTION WITH CONSISTENT SNAPSHOT", "2: START TRANSACTION WITH CONSISTENT SNAPSHOT"},
			start: position{File: "binlog.000042", Pos: 157, GTIDs: gtids}},
		// Nothing has a GTID yet: streaming replays the current file.
		{name: "none, empty gtid_executed", locking: LockingNone, gtid: true, executed: "",
			want: []string{"1: SELECT @@GLOBAL.gtid_executed", "1: SELECT VERSION()", "1: SHOW MASTER STATUS",
				"1: START TRANSACTION WITH CONSISTENT SNAPSHOT", "2: START TRANSACTION WITH CONSISTENT SNAPSHOT"},
			start: position{File: "binlog.000042", Pos: 4}},
		{name: "none without GTIDs: refused", locking: LockingNone, gtid: false,
			err: ErrLockingMode, fatal: true, mention: []string{"gtid_mode=ON", "RELOAD", "snapshot.locking.mode=minimal"}},
		{name: "lock refused without GTIDs: fails", locking: LockingMinimal, gtid: false, lockErr: 1227,
			want: []string{"1: FLUSH TABLES WITH READ LOCK", "1: ROLLBACK", "2: ROLLBACK"},
			err:  ErrPrivileges, fatal: true, mention: []string{"GRANT RELOAD", "gtid_mode=ON", "1227"}},
		// An initial_only snapshot never streams: it needs no position, so no
		// GTIDs either.
		{name: "none without GTIDs, initial_only", locking: LockingNone, mode: SnapshotInitialOnly, gtid: false,
			want: []string{"1: START TRANSACTION WITH CONSISTENT SNAPSHOT", "2: START TRANSACTION WITH CONSISTENT SNAPSHOT"}},
		{name: "lock refused without GTIDs, initial_only", locking: LockingMinimal, mode: SnapshotInitialOnly, gtid: false, lockErr: 1045,
			want: []string{"1: FLUSH TABLES WITH READ LOCK", "1: ROLLBACK", "2: ROLLBACK",
				"1: START TRANSACTION WITH CONSISTENT SNAPSHOT", "2: START TRANSACTION WITH CONSISTENT SNAPSHOT"}},
		// The lock wait ran out (lock_wait_timeout): without GTIDs the Open is
		// retried; with them the snapshot goes on without the lock.
		{name: "lock timed out without GTIDs: retried", locking: LockingMinimal, gtid: false, lockErr: 1205,
			want: []string{"1: FLUSH TABLES WITH READ LOCK", "1: ROLLBACK", "2: ROLLBACK"},
			err:  errLockWait, mention: []string{"gtid_mode=ON", "snapshot.lock.timeout.ms"}},
		{name: "lock timed out: none chosen", locking: LockingMinimal, gtid: true, executed: gtids, lockErr: 1205,
			want: []string{"1: FLUSH TABLES WITH READ LOCK", "1: ROLLBACK", "2: ROLLBACK",
				"1: SELECT @@GLOBAL.gtid_executed", "1: SELECT VERSION()", "1: SHOW MASTER STATUS",
				"1: START TRANSACTION WITH CONSISTENT SNAPSHOT", "2: START TRANSACTION WITH CONSISTENT SNAPSHOT"},
			start: position{File: "binlog.000042", Pos: 157, GTIDs: gtids}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := startFakeMySQL(t, c.executed, c.lockErr)
			mode := c.mode
			if mode == "" {
				mode = SnapshotInitial
			}
			sn, stmts, err := openOnFake(t, f, c.locking, mode, c.gtid)
			if c.err != nil {
				if !errors.Is(err, c.err) || api.IsFatal(err) != c.fatal {
					t.Fatalf("begin: %v; want fatal %v", err, c.err)
				}
				for _, m := range c.mention {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not mention %q", err, m)
					}
				}
			} else if err != nil {
				t.Fatal(err)
			} else if *sn.start != c.start || sn.locked != c.locked {
				t.Errorf("start %+v locked %v; want %+v %v", *sn.start, sn.locked, c.start, c.locked)
			}
			if !slices.Equal(stmts, c.want) {
				t.Errorf("statements:\n  %s\nwant\n  %s", strings.Join(stmts, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}
