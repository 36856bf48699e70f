package testbed

import (
	"database/sql"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
)

var databaseSeq atomic.Int64

// Database creates an empty database for one test on the server cfg
// reaches (the test bed's MariaDB, or a scratch server), as cfg's user,
// and drops it when the test ends, reporting a failed drop as a test
// error. Its name is prefix, this process's id and a sequence number, so
// tests running at once in several processes never share one; the CDC
// user may only create databases named ferry%, so prefix starts with
// "ferry". A database of that name left by an earlier, killed run is
// dropped first. Callers open their own connections to it (with the DSN
// options they need) and close them before the test ends: t.Cleanup
// functions they register after Database run before the drop.
func Database(tb testing.TB, cfg MySQLConfig, prefix string) string {
	tb.Helper()
	name := fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), databaseSeq.Add(1))
	exec := func(q string) error {
		db, err := sql.Open("mysql", cfg.DSN(""))
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.Exec(q)
		return err
	}
	for _, q := range []string{"DROP DATABASE IF EXISTS " + name, "CREATE DATABASE " + name} {
		if err := exec(q); err != nil {
			tb.Fatalf("testbed: %s: %v", q, err)
		}
	}
	tb.Cleanup(func() {
		if err := exec("DROP DATABASE IF EXISTS " + name); err != nil {
			tb.Errorf("testbed: drop the test's database %s: %v", name, err)
		}
	})
	return name
}
