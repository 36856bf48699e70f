package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestCDCStartupCheckGrants: a user without the replication privileges
// makes the mysql-cdc task FAILED with a status trace that names the
// missing grants and the GRANT statement to run.
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

	w := startWorker(t, filepath.Join(t.TempDir(), "data"), freeAddr(t))
	conf := merge(src.sourceConfig(), map[string]string{
		"source.database.user": user, "source.database.password": "pw-norepl", "sink": "drop",
	})
	w.createConnector("grants", conf)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, tasks := w.connectorState("grants")
		if len(tasks) == 1 && strings.HasPrefix(tasks[0], "FAILED") {
			trace := tasks[0]
			for _, want := range []string{"missing privileges", user, "REPLICATION SLAVE", "GRANT "} {
				if !strings.Contains(trace, want) {
					t.Errorf("status trace lacks %q:\n%s", want, trace)
				}
			}
			t.Logf("connector %s, task %s", st, tail(trace, 600))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task not FAILED within 30s: %s %v", st, tasks)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
