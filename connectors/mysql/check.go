package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	drv "github.com/go-sql-driver/mysql"
)

// serverInfo is what the start-up checks learned about the server.
type serverInfo struct {
	version string
	release release // parsed from version; zero when unparsable
	flavor  string  // "mysql" or "mariadb"
	gtid    bool    // resume by GTID
	id      uint32  // the server's server_id
}

// release is a server's x.y.z version number.
type release struct{ major, minor, patch int }

// parseRelease reads the leading x.y.z of VERSION(), such as
// "10.11.19-MariaDB-0+deb12u1-log" or "8.4.3". MariaDB's handshake (and
// proxies that copy it) puts "5.5.5-" before the real version.
func parseRelease(v string) (release, bool) {
	if rest, ok := strings.CutPrefix(v, "5.5.5-"); ok && strings.Contains(strings.ToLower(rest), "mariadb") {
		v = rest
	}
	m := releasePattern.FindStringSubmatch(v)
	if m == nil {
		return release{}, false
	}
	var r release
	r.major, _ = strconv.Atoi(m[1])
	r.minor, _ = strconv.Atoi(m[2])
	r.patch, _ = strconv.Atoi(m[3]) // 0 when absent
	return r, true
}

var releasePattern = regexp.MustCompile(`^(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?`)

func (r release) atLeast(major, minor, patch int) bool {
	if r.major != major {
		return r.major > major
	}
	if r.minor != minor {
		return r.minor > minor
	}
	return r.patch >= patch
}

// detectFlavor is the configured flavour, else the one VERSION() names.
func detectFlavor(configured, version string) string {
	switch {
	case configured != "":
		return configured
	case strings.Contains(strings.ToLower(version), "mariadb"):
		return "mariadb"
	}
	return "mysql"
}

// mysql8 reports whether the server is MySQL 8.0 or later, where binary
// logging is on by default and SET PERSIST exists.
func (i *serverInfo) mysql8() bool { return i.flavor == "mysql" && i.release.atLeast(8, 0, 0) }

// binlogSettings are the global variables the checks read.
type binlogSettings struct {
	logBin                        bool
	format, rowImage, rowMetadata string // rowMetadata is "" when the server has no such variable
}

// check verifies that the server can feed a CDC source and returns what it
// learned. Every failure names the setting or grant to change and how.
// The binlog settings come first: they need no privilege, and a server
// too old for binlog_row_metadata should hear that before being asked for
// grants it may not know.
func check(ctx context.Context, db *sql.DB, s *settings) (*serverInfo, error) {
	info := &serverInfo{}
	if err := db.QueryRowContext(ctx, "SELECT VERSION(), @@server_id").Scan(&info.version, &info.id); err != nil {
		return nil, fmt.Errorf("mysql-cdc: query server version: %w", err)
	}
	info.release, _ = parseRelease(info.version)
	info.flavor = detectFlavor(s.flavor, info.version)
	var b binlogSettings
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image").Scan(&b.logBin, &b.format, &b.rowImage); err != nil {
		return nil, fmt.Errorf("mysql-cdc: read binlog settings: %w", err)
	}
	// Servers before MySQL 8.0.1 and MariaDB 10.5 have no such variable:
	// that error is the answer (rowMetadata stays empty).
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.binlog_row_metadata").Scan(&b.rowMetadata); err != nil && !isServerError(err, erUnknownSystemVariable) {
		return nil, fmt.Errorf("mysql-cdc: read binlog_row_metadata: %w", err)
	}
	if err := info.binlogProblem(b); err != nil {
		return nil, err
	}
	if missing, account, err := missingGrants(ctx, db, info.flavor); err != nil {
		return nil, err
	} else if len(missing) > 0 {
		if account == "" {
			account = "'" + s.user + "'@'%'"
		}
		return nil, fmt.Errorf("%w: user %q (%s) lacks %s on *.*; run as an administrator: GRANT %s ON *.* TO %s",
			ErrPrivileges, s.user, account, strings.Join(missing, ", "), strings.Join(neededGrants(info.flavor), ", "), account)
	}
	switch s.gtidMode {
	case "on":
		info.gtid = true
	case "off":
	default:
		if info.flavor == "mariadb" {
			var pos string
			// MariaDB always assigns GTIDs; an empty position only means
			// nothing was logged yet, which GTID resumption handles.
			info.gtid = db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos) == nil
		} else {
			var mode string
			if db.QueryRowContext(ctx, "SELECT @@gtid_mode").Scan(&mode) == nil && strings.EqualFold(mode, "ON") {
				info.gtid = true
			}
		}
	}
	return info, nil
}

// binlogProblem is the binlog part of check, over the variables it read.
func (i *serverInfo) binlogProblem(b binlogSettings) error {
	if !b.logBin {
		if i.mysql8() {
			return fmt.Errorf("%w (log_bin is OFF): remove skip-log-bin or disable-log-bin from the server's options (MySQL 8.0+ writes a binary log by default) and restart it; log_bin cannot be changed at run time", ErrBinlogDisabled)
		}
		return fmt.Errorf("%w (log_bin is OFF): add log_bin=mysql-bin and a non-zero server_id under [mysqld] in my.cnf (or start the server with --log-bin=mysql-bin) and restart it; log_bin cannot be changed at run time", ErrBinlogDisabled)
	}
	if !strings.EqualFold(b.format, "ROW") {
		return fmt.Errorf("%w (it is %s): %s; connections opened before the change keep their old format until they reconnect", ErrBinlogFormat, b.format, i.persist("binlog_format", "ROW"))
	}
	if !strings.EqualFold(b.rowImage, "FULL") {
		return fmt.Errorf("%w (it is %s): %s, so that updates and deletes carry every column", ErrRowImage, b.rowImage, i.persist("binlog_row_image", "FULL"))
	}
	if b.rowMetadata == "" {
		return fmt.Errorf("%w: this server (%s %s) has no binlog_row_metadata; the connector needs MySQL 8.0.1+ or MariaDB 10.5+, whose row events carry column names", ErrRowMetadata, i.flavor, i.version)
	}
	if !strings.EqualFold(b.rowMetadata, "FULL") {
		return fmt.Errorf("%w (it is %s): %s, so that row events carry column names, signedness and ENUM/SET values", ErrRowMetadata, b.rowMetadata, i.persist("binlog_row_metadata", "FULL"))
	}
	return nil
}

// persist says how to change a dynamic global variable for good: SET
// PERSIST on MySQL 8.0+, else SET GLOBAL plus the same line in my.cnf.
func (i *serverInfo) persist(name, value string) string {
	if i.mysql8() {
		return fmt.Sprintf("run SET PERSIST %s='%s'", name, value)
	}
	return fmt.Sprintf("run SET GLOBAL %s='%s' and put %s=%s under [mysqld] in my.cnf so that it survives a restart", name, value, name, value)
}

// neededGrants lists the global privileges the connector asks for.
// REPLICATION CLIENT is called BINLOG MONITOR since MariaDB 10.5.2; older
// MariaDB is refused earlier, for want of binlog_row_metadata.
func neededGrants(flavor string) []string {
	client := "REPLICATION CLIENT"
	if flavor == "mariadb" {
		client = "BINLOG MONITOR"
	}
	return []string{"SELECT", "RELOAD", "SHOW DATABASES", "REPLICATION SLAVE", client}
}

// missingGrants returns the replication privileges the current user does
// not hold on *.*, and the account ('user'@'host') the server knows it by.
// SELECT and RELOAD are not required globally (per-database SELECT is
// enough, and RELOAD is only used by MySQL snapshots), so only the
// replication ones are checked. A user whose rights come from roles is
// not checked, since SHOW GRANTS does not expand them.
func missingGrants(ctx context.Context, db *sql.DB, flavor string) (missing []string, account string, err error) {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return nil, "", fmt.Errorf("mysql-cdc: SHOW GRANTS: %w", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, "", fmt.Errorf("mysql-cdc: SHOW GRANTS: %w", err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("mysql-cdc: SHOW GRANTS: %w", err)
	}
	if missing = grantsMissing(lines, flavor); len(missing) > 0 {
		var cur string
		// Without it the message falls back to the configured user at '%'.
		if db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&cur) == nil {
			account = quoteAccount(cur)
		}
	}
	return missing, account, nil
}

// quoteAccount turns CURRENT_USER()'s user@host into 'user'@'host', the
// form GRANT takes; "" when it has no host part.
func quoteAccount(cur string) string {
	at := strings.LastIndexByte(cur, '@')
	if at < 0 {
		return ""
	}
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	return q(cur[:at]) + "@" + q(cur[at+1:])
}

// grantsMissing is missingGrants' pure core over SHOW GRANTS lines.
func grantsMissing(lines []string, flavor string) []string {
	have := map[string]bool{}
	for _, l := range lines {
		u := strings.ToUpper(l)
		if !strings.HasPrefix(u, "GRANT ") {
			continue
		}
		on := strings.Index(u, " ON ")
		if on < 0 {
			return nil // a role grant: its privileges are not listed here
		}
		target := strings.TrimSpace(u[on+4:])
		if !strings.HasPrefix(target, "*.*") {
			continue
		}
		for _, p := range strings.Split(u[len("GRANT "):on], ",") {
			have[strings.TrimSpace(p)] = true
		}
	}
	if have["ALL PRIVILEGES"] || have["ALL"] {
		return nil
	}
	var missing []string
	if !have["REPLICATION SLAVE"] && !have["REPLICATION REPLICA"] {
		missing = append(missing, "REPLICATION SLAVE")
	}
	if !have["REPLICATION CLIENT"] && !have["BINLOG MONITOR"] && !have["SUPER"] {
		if flavor == "mariadb" {
			missing = append(missing, "BINLOG MONITOR")
		} else {
			missing = append(missing, "REPLICATION CLIENT")
		}
	}
	return missing
}

// binlogFiles lists the binlog files the server still has.
func binlogFiles(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("mysql-cdc: SHOW BINARY LOGS: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		dst := make([]any, len(cols))
		var name string
		dst[0] = &name
		for i := 1; i < len(dst); i++ {
			dst[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("mysql-cdc: SHOW BINARY LOGS: %w", err)
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// masterStatus reads the server's current binlog position and, when gtid,
// its executed GTID set.
func masterStatus(ctx context.Context, q queryer, flavor string, gtid bool) (*position, error) {
	var rel release
	if flavor == "mysql" {
		// Only MySQL's statement depends on the version. An unreadable
		// version leaves rel zero, which picks the older statement.
		var v string
		if q.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v) == nil {
			rel, _ = parseRelease(v)
		}
	}
	stmts := binlogStatusStatements(flavor, rel)
	rows, err := q.QueryContext(ctx, stmts[0])
	if isServerError(err, erParseError) {
		// A fork whose version misleads: the other spelling.
		rows, err = q.QueryContext(ctx, stmts[1])
	}
	if err != nil {
		return nil, fmt.Errorf("mysql-cdc: %s: %w", stmts[0], err)
	}
	cols, _ := rows.Columns()
	p := &position{}
	found := false
	for rows.Next() {
		dst := make([]any, len(cols))
		dst[0], dst[1] = &p.File, &p.Pos
		for i := 2; i < len(dst); i++ {
			dst[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(dst...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("mysql-cdc: %s: %w", stmts[0], err)
		}
		found = true
	}
	rows.Close()
	if !found {
		return nil, fmt.Errorf("%w: %s is empty", ErrBinlogDisabled, stmts[0])
	}
	if gtid {
		if p.GTIDs, err = gtidAt(ctx, q, flavor, p.File, p.Pos); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Server error numbers the checks act on.
const (
	erParseError            = 1064 // ER_PARSE_ERROR: a statement the server does not know
	erUnknownSystemVariable = 1193 // ER_UNKNOWN_SYSTEM_VARIABLE
)

// isServerError reports whether err is the server's error number code.
func isServerError(err error, code uint16) bool {
	var me *drv.MySQLError
	return errors.As(err, &me) && me.Number == code
}

// binlogStatusStatements returns the statement that reports the current
// binlog file and position, then its other spelling: MySQL 8.2 added SHOW
// BINARY LOG STATUS and 8.4 removed SHOW MASTER STATUS; MariaDB keeps
// SHOW MASTER STATUS in every version.
func binlogStatusStatements(flavor string, rel release) [2]string {
	if flavor == "mysql" && rel.atLeast(8, 2, 0) {
		return [2]string{"SHOW BINARY LOG STATUS", "SHOW MASTER STATUS"}
	}
	return [2]string{"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"}
}

// gtidAt returns the GTID set executed at file:pos: exact on MariaDB
// (BINLOG_GTID_POS); on MySQL the current gtid_executed, which callers read
// while holding a lock that keeps it in step with file:pos.
func gtidAt(ctx context.Context, q queryer, flavor, file string, pos uint32) (string, error) {
	var g sql.NullString
	var err error
	if flavor == "mariadb" {
		err = q.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", file, pos).Scan(&g)
	} else {
		err = q.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_executed").Scan(&g)
	}
	if err != nil {
		return "", fmt.Errorf("mysql-cdc: read GTID position: %w", err)
	}
	return strings.ReplaceAll(g.String, "\n", ""), nil
}

// queryer is what *sql.DB and *sql.Conn share.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}
