package testbed_test

import (
	"database/sql"
	"testing"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestDatabase: each call gives the test a database of its own that it may
// use as the CDC user, and the database is gone once the test has ended.
func TestDatabase(t *testing.T) {
	t.Parallel()
	cfg := testbed.MySQL(t)
	db, err := sql.Open("mysql", cfg.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exists := func(name string) bool {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	var a, b string
	t.Run("use", func(t *testing.T) {
		a, b = testbed.Database(t, cfg, "ferry_tbdb"), testbed.Database(t, cfg, "ferry_tbdb")
		if a == b || !exists(a) || !exists(b) {
			t.Fatalf("databases %q and %q: want two distinct ones that exist", a, b)
		}
		if _, err := db.Exec("CREATE TABLE " + a + ".t (id INT PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("INSERT INTO " + a + ".t VALUES (1)"); err != nil {
			t.Fatal(err)
		}
	})
	if exists(a) || exists(b) {
		t.Errorf("databases %q and %q are still there after the test", a, b)
	}
}
