package mysql

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	drv "github.com/go-sql-driver/mysql"
)

func TestParseRelease(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want release
		ok   bool
	}{
		{"10.11.19-MariaDB-0+deb12u1-log", release{10, 11, 19}, true},
		{"5.5.5-10.11.6-MariaDB", release{10, 11, 6}, true}, // MariaDB's handshake form
		{"5.5.5-8.0.36", release{5, 5, 5}, true},            // not MariaDB: taken as it is
		{"8.4.3", release{8, 4, 3}, true},
		{"8.0.36-0ubuntu0.22.04.1", release{8, 0, 36}, true},
		{"5.7.44-log", release{5, 7, 44}, true},
		{"8.0", release{8, 0, 0}, true},
		{"8.0.11-TiDB-v7.5.0", release{8, 0, 11}, true},
		{"", release{}, false},
		{"MariaDB", release{}, false},
		{"8", release{}, false},
		{"v8.0.1", release{}, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, ok := parseRelease(c.in)
			if got != c.want || ok != c.ok {
				t.Errorf("parseRelease(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestReleaseAtLeast(t *testing.T) {
	t.Parallel()
	cases := []struct {
		r                   release
		major, minor, patch int
		want                bool
	}{
		{release{8, 0, 1}, 8, 0, 1, true},
		{release{8, 0, 0}, 8, 0, 1, false},
		{release{8, 2, 0}, 8, 0, 1, true},
		{release{9, 0, 0}, 8, 2, 0, true},
		{release{7, 9, 9}, 8, 0, 0, false},
		{release{}, 8, 0, 0, false}, // unknown picks the older behaviour
	}
	for _, c := range cases {
		if got := c.r.atLeast(c.major, c.minor, c.patch); got != c.want {
			t.Errorf("%v.atLeast(%d.%d.%d) = %v, want %v", c.r, c.major, c.minor, c.patch, got, c.want)
		}
	}
}

func TestDetectFlavor(t *testing.T) {
	t.Parallel()
	cases := []struct{ configured, version, want string }{
		{"", "10.11.19-MariaDB-0+deb12u1-log", "mariadb"},
		{"", "8.4.3", "mysql"},
		{"", "5.5.5-10.6.16-mariadb", "mariadb"},
		{"mysql", "10.11.19-MariaDB", "mysql"}, // configured wins
		{"mariadb", "8.0.0-proxy", "mariadb"},
	}
	for _, c := range cases {
		if got := detectFlavor(c.configured, c.version); got != c.want {
			t.Errorf("detectFlavor(%q, %q) = %q, want %q", c.configured, c.version, got, c.want)
		}
	}
}

// server returns the serverInfo check would build for a VERSION() string.
func server(version string) *serverInfo {
	r, _ := parseRelease(version)
	return &serverInfo{version: version, release: r, flavor: detectFlavor("", version)}
}

// TestBinlogProblem covers every binlog misconfiguration on both
// flavours, including the MySQL remedies the test bed's MariaDB cannot
// show: its messages must say what is wrong and give the SQL or option
// that fixes it on that server.
func TestBinlogProblem(t *testing.T) {
	t.Parallel()
	good := binlogSettings{logBin: true, format: "ROW", rowImage: "FULL", rowMetadata: "FULL"}
	with := func(f func(*binlogSettings)) binlogSettings { b := good; f(&b); return b }
	const (
		maria  = "10.11.19-MariaDB-0+deb12u1-log"
		mysql8 = "8.4.3"
	)
	cases := []struct {
		name    string
		version string
		b       binlogSettings
		want    error
		says    []string
		notSays []string
	}{
		{name: "mariadb ok", version: maria, b: good},
		{name: "mysql ok, lower-case values", version: mysql8, b: binlogSettings{logBin: true, format: "row", rowImage: "full", rowMetadata: "full"}},
		{name: "mariadb binlog off", version: maria, b: with(func(b *binlogSettings) { b.logBin = false }), want: ErrBinlogDisabled,
			says: []string{"log_bin is OFF", "log_bin=mysql-bin", "non-zero server_id", "my.cnf", "restart", "cannot be changed at run time"}},
		{name: "mysql 8 binlog off", version: mysql8, b: with(func(b *binlogSettings) { b.logBin = false }), want: ErrBinlogDisabled,
			says: []string{"log_bin is OFF", "skip-log-bin", "disable-log-bin", "by default", "restart"}},
		{name: "mysql 5.7 binlog off", version: "5.7.44-log", b: with(func(b *binlogSettings) { b.logBin = false }), want: ErrBinlogDisabled,
			says: []string{"log_bin=mysql-bin", "server_id"}, notSays: []string{"skip-log-bin"}},
		{name: "binlog off wins over the rest", version: maria, b: binlogSettings{format: "MIXED", rowImage: "MINIMAL"}, want: ErrBinlogDisabled},
		{name: "mariadb statement", version: maria, b: with(func(b *binlogSettings) { b.format = "STATEMENT" }), want: ErrBinlogFormat,
			says: []string{"(it is STATEMENT)", "SET GLOBAL binlog_format='ROW'", "binlog_format=ROW under [mysqld] in my.cnf", "reconnect"}},
		{name: "mariadb mixed", version: maria, b: with(func(b *binlogSettings) { b.format = "MIXED" }), want: ErrBinlogFormat,
			says: []string{"(it is MIXED)", "SET GLOBAL binlog_format='ROW'"}},
		{name: "mysql 8 mixed persists", version: mysql8, b: with(func(b *binlogSettings) { b.format = "MIXED" }), want: ErrBinlogFormat,
			says: []string{"SET PERSIST binlog_format='ROW'"}, notSays: []string{"SET GLOBAL", "my.cnf"}},
		{name: "mariadb minimal image", version: maria, b: with(func(b *binlogSettings) { b.rowImage = "MINIMAL" }), want: ErrRowImage,
			says: []string{"(it is MINIMAL)", "SET GLOBAL binlog_row_image='FULL'", "binlog_row_image=FULL under [mysqld]", "every column"}},
		{name: "mariadb noblob image", version: maria, b: with(func(b *binlogSettings) { b.rowImage = "NOBLOB" }), want: ErrRowImage,
			says: []string{"(it is NOBLOB)", "SET GLOBAL binlog_row_image='FULL'"}},
		{name: "mysql 8 minimal image", version: mysql8, b: with(func(b *binlogSettings) { b.rowImage = "MINIMAL" }), want: ErrRowImage,
			says: []string{"SET PERSIST binlog_row_image='FULL'"}},
		{name: "mariadb metadata not logged", version: maria, b: with(func(b *binlogSettings) { b.rowMetadata = "NO_LOG" }), want: ErrRowMetadata,
			says: []string{"(it is NO_LOG)", "SET GLOBAL binlog_row_metadata='FULL'", "column names"}},
		{name: "mysql 8 minimal metadata", version: mysql8, b: with(func(b *binlogSettings) { b.rowMetadata = "MINIMAL" }), want: ErrRowMetadata,
			says: []string{"(it is MINIMAL)", "SET PERSIST binlog_row_metadata='FULL'"}},
		{name: "mysql 5.7 has no metadata", version: "5.7.44-log", b: with(func(b *binlogSettings) { b.rowMetadata = "" }), want: ErrRowMetadata,
			says: []string{"mysql 5.7.44-log", "has no binlog_row_metadata", "MySQL 8.0.1+ or MariaDB 10.5+"}},
		{name: "mariadb 10.4 has no metadata", version: "10.4.32-MariaDB", b: with(func(b *binlogSettings) { b.rowMetadata = "" }), want: ErrRowMetadata,
			says: []string{"mariadb 10.4.32-MariaDB", "MariaDB 10.5+"}},
		{name: "unknown version gets the portable remedy", version: "custom", b: with(func(b *binlogSettings) { b.format = "MIXED" }), want: ErrBinlogFormat,
			says: []string{"SET GLOBAL binlog_format='ROW'", "my.cnf"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := server(c.version).binlogProblem(c.b)
			if c.want == nil {
				if err != nil {
					t.Fatalf("binlogProblem = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("binlogProblem = %v, want %v", err, c.want)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message lacks %q:\n%v", s, err)
				}
			}
			for _, s := range c.notSays {
				if strings.Contains(err.Error(), s) {
					t.Errorf("message has %q:\n%v", s, err)
				}
			}
		})
	}
}

func TestBinlogStatusStatements(t *testing.T) {
	t.Parallel()
	const (
		master = "SHOW MASTER STATUS"
		binary = "SHOW BINARY LOG STATUS"
	)
	cases := []struct {
		version string
		want    string
	}{
		{"5.7.44-log", master},
		{"8.0.36", master},
		{"8.1.0", master},
		{"8.2.0", binary}, // added
		{"8.4.3", binary}, // SHOW MASTER STATUS removed
		{"9.1.0", binary},
		{"10.11.19-MariaDB-log", master},
		{"11.4.2-MariaDB", master},
		{"unparsable", master},
	}
	for _, c := range cases {
		i := server(c.version)
		got := binlogStatusStatements(i.flavor, i.release)
		if got[0] != c.want || got[1] == got[0] || !slices.Contains([]string{master, binary}, got[1]) {
			t.Errorf("%s: binlogStatusStatements = %q, want %q first and the other spelling second", c.version, got, c.want)
		}
	}
}

func TestNeededGrants(t *testing.T) {
	t.Parallel()
	cases := []struct{ flavor, want string }{
		{"mariadb", "SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR"},
		{"mysql", "SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT"},
	}
	for _, c := range cases {
		if got := strings.Join(neededGrants(c.flavor), ", "); got != c.want {
			t.Errorf("neededGrants(%s) = %s, want %s", c.flavor, got, c.want)
		}
	}
}

func TestQuoteAccount(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"ferry@127.0.0.1", "'ferry'@'127.0.0.1'"},
		{"cdc@%", "'cdc'@'%'"},
		{"a@b@localhost", "'a@b'@'localhost'"},
		{"o'neil@%", "'o''neil'@'%'"},
		{"nohost", ""},
	}
	for _, c := range cases {
		if got := quoteAccount(c.in); got != c.want {
			t.Errorf("quoteAccount(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestIsServerError(t *testing.T) {
	t.Parallel()
	unknown := &drv.MySQLError{Number: erUnknownSystemVariable, Message: "Unknown system variable 'binlog_row_metadata'"}
	cases := []struct {
		name string
		err  error
		code uint16
		want bool
	}{
		{"that error", unknown, erUnknownSystemVariable, true},
		{"wrapped", fmt.Errorf("read: %w", unknown), erUnknownSystemVariable, true},
		{"another number", unknown, erParseError, false},
		{"not a server error", errors.New("connection refused"), erUnknownSystemVariable, false},
		{"nil", nil, erParseError, false},
	}
	for _, c := range cases {
		if got := isServerError(c.err, c.code); got != c.want {
			t.Errorf("%s: isServerError = %v, want %v", c.name, got, c.want)
		}
	}
}
