package mysql_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/testbed"

	cdc "github.com/ferryhq/ferry/connectors/mysql"
)

// env is one test's database on the test bed's MariaDB.
type env struct {
	cfg  testbed.MySQLConfig
	db   *sql.DB // as the CDC user, on the test database
	name string
}

// newEnv creates a database ferry_cdc_<random> that the test drops at the
// end.
func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, testbed.MySQL(t))
}

// newEnvOn is newEnv on the server cfg describes (a scratch server).
func newEnvOn(t testing.TB, cfg testbed.MySQLConfig) *env {
	t.Helper()
	name := testbed.Database(t, cfg, "ferry_cdc")
	db, err := sql.Open("mysql", cfg.DSN(name)+"&multiStatements=true&time_zone=%27%2B00%3A00%27")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &env{cfg: cfg, db: db, name: name}
}

func (e *env) exec(t testing.TB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := e.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// config is the source's settings for this database.
func (e *env) config(extra ...string) map[string]string {
	m := map[string]string{
		"database.hostname":     e.cfg.Host,
		"database.port":         strconv.Itoa(e.cfg.Port),
		"database.user":         e.cfg.User,
		"database.password":     e.cfg.Password,
		"database.include.list": e.name,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

func logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// open builds and opens a source.
func open(t testing.TB, raw map[string]string, committed map[string]api.Position) (api.Source, error) {
	t.Helper()
	c, err := cdc.Source.Spec.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	src, err := cdc.Source.New(api.TaskConfig{Connector: "cdc-test", Tasks: 1, Config: c, Committed: committed, Logger: logger(t)})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := src.Open(ctx); err != nil {
		_ = src.Close(context.Background())
		return nil, err
	}
	return src, nil
}

func mustOpen(t testing.TB, raw map[string]string, committed map[string]api.Position) api.Source {
	t.Helper()
	src, err := open(t, raw, committed)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	return src
}

// readN reads until n records arrived (acknowledging each batch), failing
// after a timeout.
func readN(t testing.TB, src api.Source, n int) []api.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []api.Record
	for len(out) < n {
		batch, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("Read after %d of %d records: %v", len(out), n, err)
		}
		ackBatch(t, src, batch)
		out = append(out, batch...)
	}
	return out
}

func ackBatch(t testing.TB, src api.Source, batch []api.Record) {
	if a, ok := src.(api.Acker); ok && len(batch) > 0 {
		last := batch[len(batch)-1]
		if err := a.Ack(context.Background(), last.Partition, last.Position); err != nil {
			t.Fatal(err)
		}
	}
}

// envelope is the Debezium-shaped data of a change event.
type envelope struct {
	Before map[string]json.RawMessage `json:"before"`
	After  map[string]json.RawMessage `json:"after"`
	Op     string                     `json:"op"`
	Source struct {
		DB       string `json:"db"`
		Table    string `json:"table"`
		File     string `json:"file"`
		Pos      uint32 `json:"pos"`
		Row      int    `json:"row"`
		GTID     string `json:"gtid"`
		Snapshot string `json:"snapshot"`
	} `json:"source"`
}

func decode(t testing.TB, r api.Record) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(r.Event.Data, &e); err != nil {
		t.Fatalf("record %s: %v: %s", r.Event.ID, err, r.Event.Data)
	}
	return e
}

// TestConformance is not parallel: the kit's goroutine-leak check would
// see the binlog readers of the other tests.
func TestConformance(t *testing.T) {
	e := newEnv(t)
	e.exec(t, "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20))",
		"CREATE TABLE b (k1 INT, k2 VARCHAR(10), n BIGINT, PRIMARY KEY (k1, k2))")
	for i := range 23 {
		e.exec(t, fmt.Sprintf("INSERT INTO a VALUES (%d, 'v%d')", i, i))
	}
	for i := range 17 {
		e.exec(t, fmt.Sprintf("INSERT INTO b VALUES (%d, 'x%d', %d), (%d, 'y%d', %d)", i%3, i, i, i%3, i, -i))
	}
	for _, threads := range []string{"1", "2"} {
		t.Run("threads="+threads, func(t *testing.T) {
			apitestRun(t, e.config("snapshot.mode", "initial_only", "snapshot.chunk.size", "5", "batch.size", "4",
				"snapshot.max.threads", threads), 23+34)
		})
	}
}

func TestStartupChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if e.cfg.RootPassword == "" {
		t.Skip("no root password in the test bed env")
	}
	root := rootDB(t, e.cfg)
	user := fmt.Sprintf("nocdc%d", rand.Uint32N(1e6))
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY 'pw'", user),
		fmt.Sprintf("GRANT SELECT ON *.* TO '%s'@'127.0.0.1'", user),
	} {
		if _, err := root.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { _, _ = root.Exec(fmt.Sprintf("DROP USER '%s'@'127.0.0.1'", user)) })

	cases := []struct {
		name      string
		raw       map[string]string
		committed map[string]api.Position
		want      error
		mention   []string
	}{
		{"no replication grants", e.config("database.user", user, "database.password", "pw"), nil,
			cdc.ErrPrivileges, []string{"REPLICATION SLAVE", "BINLOG MONITOR", "GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.*"}},
		{"purged position", e.config("snapshot.mode", "initial"),
			map[string]api.Position{e.cfg.Addr(): api.Position(`{"file":"mysql-bin.000000","pos":4}`)},
			cdc.ErrPurged, []string{"mysql-bin.000000", "snapshot.mode=when_needed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, err := open(t, c.raw, c.committed)
			if err == nil {
				src.Close(context.Background())
				t.Fatalf("Open succeeded; want %v", c.want)
			}
			if !errors.Is(err, c.want) || !api.IsFatal(err) {
				t.Fatalf("Open: %v; want fatal %v", err, c.want)
			}
			for _, m := range c.mention {
				if !contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}

	// when_needed turns the purged position into a new snapshot.
	e.exec(t, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	src := mustOpen(t, e.config("snapshot.mode", "when_needed"),
		map[string]api.Position{e.cfg.Addr(): api.Position(`{"file":"mysql-bin.000000","pos":4}`)})
	recs := readN(t, src, 1)
	if recs[0].Event.Type != cdc.TypeRead {
		t.Errorf("when_needed after a purge read %s, want a snapshot read", recs[0].Event.Type)
	}
}

// rootDB connects as root over TCP, or else over the test bed's socket
// (the test bed's root@127.0.0.1 password has been seen to differ from
// its env file).
func rootDB(t testing.TB, cfg testbed.MySQLConfig) *sql.DB {
	t.Helper()
	dir := os.Getenv("FERRY_TESTBED_DIR")
	if dir == "" {
		dir = "../../.testbed"
	}
	for _, dsn := range []string{
		cfg.RootDSN(""),
		fmt.Sprintf("root:%s@unix(%s/mariadb/mariadb.sock)/", cfg.RootPassword, dir),
	} {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			continue
		}
		if err := db.Ping(); err == nil {
			t.Cleanup(func() { db.Close() })
			return db
		}
		db.Close()
	}
	t.Skip("cannot connect to the test bed's MariaDB as root over TCP or its socket")
	return nil
}

func contains(s, sub string) bool { return len(sub) == 0 || (len(s) >= len(sub) && index(s, sub) >= 0) }

func index(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
