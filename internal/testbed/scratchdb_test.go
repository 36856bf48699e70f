package testbed

import (
	"database/sql"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLookBinaries(t *testing.T) {
	t.Parallel()
	// mk makes a directory holding the named files; a name ending in "/"
	// is a directory, one ending in "-" a file without the execute bit.
	mk := func(t *testing.T, names ...string) string {
		d := t.TempDir()
		for _, n := range names {
			switch {
			case strings.HasSuffix(n, "/"):
				if err := os.Mkdir(filepath.Join(d, strings.TrimSuffix(n, "/")), 0o755); err != nil {
					t.Fatal(err)
				}
			case strings.HasSuffix(n, "-"):
				if err := os.WriteFile(filepath.Join(d, strings.TrimSuffix(n, "-")), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			default:
				if err := os.WriteFile(filepath.Join(d, n), nil, 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
		return d
	}
	tests := []struct {
		name    string
		dirs    [][]string
		want    []int // index of the dir each of scratchBinaries is found in
		missing string
	}{
		{name: "one dir", dirs: [][]string{{"mariadb-install-db", "mariadbd"}}, want: []int{0, 0}},
		{name: "bin and sbin", dirs: [][]string{{"mariadb-install-db"}, {"mariadbd"}}, want: []int{0, 1}},
		{name: "first dir wins", dirs: [][]string{{"mariadbd"}, {"mariadb-install-db", "mariadbd"}}, want: []int{1, 0}},
		{name: "not executable is skipped", dirs: [][]string{{"mariadbd-"}, {"mariadb-install-db", "mariadbd"}}, want: []int{1, 1}},
		{name: "directory is skipped", dirs: [][]string{{"mariadbd/", "mariadb-install-db"}}, missing: "mariadbd"},
		{name: "none", dirs: [][]string{{}}, missing: "mariadb-install-db, mariadbd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var dirs []string
			for _, names := range tc.dirs {
				dirs = append(dirs, mk(t, names...))
			}
			got, err := lookBinaries(append([]string{""}, dirs...))
			if tc.missing != "" {
				if err == nil || !strings.Contains(err.Error(), tc.missing+" not found") {
					t.Fatalf("err = %v, want %q not found", err, tc.missing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, name := range scratchBinaries {
				if want := filepath.Join(dirs[tc.want[i]], name); got[name] != want {
					t.Errorf("%s = %q, want %q", name, got[name], want)
				}
			}
		})
	}
}

func TestUnavailableSkipsOrFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ci        string
		wantFatal bool
	}{{"", false}, {"false", false}, {"true", true}, {"1", true}}
	for _, tc := range tests {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Parallel()
			r := &recordingTB{TB: t}
			source{vars: map[string]string{"CI": tc.ci}}.unavailable(r, "mariadbd not found")
			if tc.wantFatal {
				if r.fatal == "" || r.skipped != "" || !strings.Contains(r.fatal, "mariadbd not found") {
					t.Fatalf("fatal %q, skipped %q; want fatal", r.fatal, r.skipped)
				}
				return
			}
			if r.skipped != "mariadbd not found" || r.fatal != "" {
				t.Fatalf("fatal %q, skipped %q; want skip", r.fatal, r.skipped)
			}
		})
	}
}

// TestScratchMariaDB starts scratch servers with non-default options and
// checks that the options took effect over the defaults, that the
// accounts match the test bed's, and that the server and its files are
// gone after the test.
func TestScratchMariaDB(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		options []string
		want    [4]string // log_bin, binlog_format, binlog_row_image, binlog_row_metadata
	}{
		{name: "defaults", want: [4]string{"1", "ROW", "FULL", "FULL"}},
		{name: "statement", options: []string{"--binlog-format=STATEMENT"}, want: [4]string{"1", "STATEMENT", "FULL", "FULL"}},
		{name: "binlog off", options: []string{"--skip-log-bin"}, want: [4]string{"0", "ROW", "FULL", "FULL"}},
	}
	for _, tc := range tests {
		var addr, datadir string
		t.Run(tc.name, func(t *testing.T) {
			cfg := ScratchMariaDB(t, tc.options...)
			addr = cfg.Addr()
			root := openDB(t, cfg.RootDSN(""))
			var got [4]string
			if err := root.QueryRow("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@datadir").
				Scan(&got[0], &got[1], &got[2], &got[3], &datadir); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("log_bin, format, row image, metadata = %v, want %v", got, tc.want)
			}
			// Root may reconfigure the server, as the CDC check tests do.
			if _, err := root.Exec("SET GLOBAL binlog_row_image = 'MINIMAL'"); err != nil {
				t.Errorf("SET GLOBAL as root: %v", err)
			}

			cdc := openDB(t, cfg.DSN(""))
			var grants []string
			rows, err := cdc.Query("SHOW GRANTS")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var g string
				if err := rows.Scan(&g); err != nil {
					t.Fatal(err)
				}
				grants = append(grants, g)
			}
			rows.Close()
			all := strings.Join(grants, "\n")
			for _, want := range []string{"REPLICATION SLAVE", "BINLOG MONITOR", "`ferry%`"} {
				if !strings.Contains(all, want) {
					t.Errorf("CDC user's grants lack %s:\n%s", want, all)
				}
			}
			if _, err := cdc.Exec("CREATE DATABASE ferry_scratch"); err != nil {
				t.Errorf("CDC user creates a ferry database: %v", err)
			}
		})
		if addr == "" {
			continue // skipped
		}
		// Cleanup ran when the subtest ended.
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s: %s still accepts connections after the test", tc.name, addr)
		}
		if _, err := os.Stat(datadir); !os.IsNotExist(err) {
			t.Errorf("%s: data directory %s still there: %v", tc.name, datadir, err)
		}
	}
}

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
