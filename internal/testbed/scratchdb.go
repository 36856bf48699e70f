package testbed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	// The scratch server is set up over SQL.
	_ "github.com/go-sql-driver/mysql"
)

// Scratch MariaDB servers exist for tests that must misconfigure a server
// (binary log off, another binlog_format): the shared test bed MariaDB is
// used by other packages' tests at the same time and must never change.

// scratchBinaries are the programs a scratch server needs; mariadbd lives
// in /usr/sbin, which is not on every PATH.
var scratchBinaries = []string{"mariadb-install-db", "mariadbd"}

// sbinDirs are searched after PATH.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

// The scratch server's accounts mirror the test bed's (docs/testing.md):
// a CDC user with the binlog reader's grants and ALL on ferry% databases,
// and root with a password, both on 127.0.0.1.
const (
	scratchUser     = "ferry"
	scratchPassword = "ferry"
	scratchRootPass = "ferry-root"
)

// scratchDefaults are the server options a scratch server starts with,
// the test bed's binlog settings. The caller's options come after them on
// the command line, and mariadbd lets a later option win, so
// "--skip-log-bin" or "--binlog-format=STATEMENT" override them.
var scratchDefaults = []string{
	"--server-id=1",
	"--log-bin=mysql-bin",
	"--binlog-format=ROW",
	"--binlog-row-image=FULL",
	"--binlog-row-metadata=FULL",
	"--gtid-strict-mode=ON",
}

// scratchReadyTimeout bounds install plus start-up. Both take about a
// second on a quiet machine; the CI machine is shared and often loaded.
const scratchReadyTimeout = 90 * time.Second

// scratchAttempts is how often a start is retried on another port when
// the free port found was taken before mariadbd bound it.
const scratchAttempts = 3

// ScratchMariaDB starts a private, throwaway MariaDB server on a free
// 127.0.0.1 port for a test that needs a server configured unlike the
// shared test bed's. options are mariadbd command-line options applied
// after the defaults (binary log on, ROW, FULL row image and metadata,
// server_id=1), for example "--skip-log-bin" or "--binlog-format=MIXED".
// Settings that are dynamic are better changed with SET GLOBAL as root
// (RootDSN) on one server than by starting several.
//
// The returned config has the same accounts as the test bed's MariaDB
// (the CDC user, and root with a password). The server is stopped and its
// data directory deleted when the test ends; on Linux it is also killed if
// the test process dies. It costs about 1 s (mariadb-install-db) plus
// 0.2 s (start) on a quiet machine, and about 100 MB of memory while it runs.
//
// When the MariaDB binaries are not installed the test is skipped outside
// CI and fails with CI=true, as the other accessors do.
func ScratchMariaDB(tb testing.TB, options ...string) MySQLConfig {
	tb.Helper()
	s := osSource()
	bins, err := lookBinaries(append(filepath.SplitList(s.getenv("PATH")), sbinDirs...))
	if err != nil {
		s.unavailable(tb, err.Error()+"; apt-get install mariadb-server (testbed.sh up installs it)")
		return MySQLConfig{}
	}
	var srv *scratchServer
	for attempt := 1; ; attempt++ {
		srv, err = startScratch(tb, bins, options)
		// A port another process took, or an install that failed (seen
		// once in a loaded CI run, not reproduced alone), is tried again
		// in a fresh directory.
		if err == nil || !(errors.Is(err, errPortTaken) || errors.Is(err, errInstall)) || attempt == scratchAttempts {
			break
		}
	}
	if err != nil {
		tb.Fatalf("testbed: scratch mariadb: %v", err)
	}
	return srv.cfg
}

// unavailable stops tb because something it needs is missing: Skip
// outside CI, Fatal with CI=true. On a real testing.TB it does not return.
func (s source) unavailable(tb testing.TB, msg string) {
	tb.Helper()
	if s.inCI() {
		tb.Fatal(msg + " [CI=true: integration tests must not skip]")
	} else {
		tb.Skip(msg)
	}
}

// lookBinaries finds each of scratchBinaries as an executable file in the
// first of dirs that has it.
func lookBinaries(dirs []string) (map[string]string, error) {
	found := map[string]string{}
	var missing []string
	for _, name := range scratchBinaries {
		for _, d := range dirs {
			if d == "" {
				continue
			}
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
				found[name] = p
				break
			}
		}
		if found[name] == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("testbed: scratch mariadb: %s not found in PATH nor %s",
			strings.Join(missing, ", "), strings.Join(sbinDirs, ", "))
	}
	return found, nil
}

// errPortTaken means another process bound the chosen port first.
var errPortTaken = errors.New("port taken")

// errInstall means mariadb-install-db failed.
var errInstall = errors.New("mariadb-install-db failed")

// scratchServer is one running scratch mariadbd.
type scratchServer struct {
	cfg  MySQLConfig
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when mariadbd has exited
}

// scratchConf is the my.cnf of a scratch server: where its files go and
// the small buffers that make it start fast. Binlog settings are command
// line options, so that mariadb-install-db does not log its bootstrap.
func scratchConf(dir string, port int) string {
	return fmt.Sprintf(`[mariadbd]
datadir=%[1]s/data
socket=%[1]s/mariadb.sock
pid-file=%[1]s/mariadb.pid
log_error=%[1]s/mariadb.err
port=%[2]d
bind-address=127.0.0.1
skip-name-resolve
innodb_buffer_pool_size=16M
innodb_log_file_size=8M
innodb_flush_log_at_trx_commit=2
sync_binlog=0
performance_schema=OFF
max_connections=100
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
`, dir, port)
}

// startScratch installs and starts one server and sets up its accounts.
// On error nothing is left running.
func startScratch(tb testing.TB, bins map[string]string, options []string) (*scratchServer, error) {
	tb.Helper()
	begin := time.Now()
	// A short directory under the system temp dir: the socket path must
	// fit in 108 bytes, which t.TempDir's test-named paths may not.
	dir, err := os.MkdirTemp("", "ferry-scratchdb-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	conf := filepath.Join(dir, "my.cnf")
	if err := os.WriteFile(conf, []byte(scratchConf(dir, port)), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), scratchReadyTimeout)
	defer cancel()
	// --user=root: mariadbd refuses to run as root without it.
	out, err := exec.CommandContext(ctx, bins["mariadb-install-db"], "--defaults-file="+conf, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		errLog, _ := os.ReadFile(filepath.Join(dir, "mariadb.err"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %v\n%s\nmariadb.err:\n%s", errInstall, err, tail(string(out), 2000), tail(string(errLog), 2000))
	}
	installed := time.Now()

	args := append([]string{"--defaults-file=" + conf, "--user=root"}, scratchDefaults...)
	cmd := exec.Command(bins["mariadbd"], append(args, options...)...)
	cmd.SysProcAttr = scratchProcAttr()
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	srv := &scratchServer{dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(srv.done) }()
	srv.cfg = MySQLConfig{Host: "127.0.0.1", Port: port, User: scratchUser, Password: scratchPassword, RootPassword: scratchRootPass}

	if err := srv.setUp(ctx); err != nil {
		srv.stop()
		errLog, _ := os.ReadFile(filepath.Join(dir, "mariadb.err"))
		if strings.Contains(string(errLog), "Address already in use") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%v (options %v); mariadb.err:\n%s", err, options, tail(string(errLog), 2000))
	}
	tb.Logf("testbed: scratch mariadb on %s %v: install %s, start %s",
		srv.cfg.Addr(), options, installed.Sub(begin).Round(time.Millisecond), time.Since(installed).Round(time.Millisecond))
	tb.Cleanup(func() {
		srv.stop()
		if err := os.RemoveAll(dir); err != nil {
			tb.Logf("testbed: scratch mariadb: %v", err)
		}
	})
	return srv, nil
}

// setUp waits until the server answers root (no password on a fresh
// install) over TCP, then creates the test bed's accounts.
func (s *scratchServer) setUp(ctx context.Context) error {
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/?timeout=2s", s.cfg.Addr()))
	if err != nil {
		return err
	}
	defer db.Close()
	for {
		if err = db.PingContext(ctx); err == nil {
			break
		}
		select {
		case <-s.done:
			return fmt.Errorf("mariadbd exited during start-up: %v", s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("not answering after %s: %w", scratchReadyTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// One connection, so that sql_log_bin=0 covers every statement:
	// account set-up is no row change a CDC test should read.
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	u := "'" + scratchUser + "'@'127.0.0.1'"
	for _, q := range []string{
		"SET SESSION sql_log_bin = 0",
		"CREATE USER " + u + " IDENTIFIED BY '" + scratchPassword + "'",
		"GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO " + u,
		"GRANT ALL PRIVILEGES ON `ferry%`.* TO " + u,
		"ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '" + scratchRootPass + "'",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// scratchStopTimeout bounds a clean shutdown before the server is killed.
const scratchStopTimeout = 30 * time.Second

// stop shuts the server down (SIGTERM, then SIGKILL) and waits for it.
func (s *scratchServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(scratchStopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// freePort returns a 127.0.0.1 port nothing listened on a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
