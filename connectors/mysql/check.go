package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// serverInfo is what the start-up checks learned about the server.
type serverInfo struct {
	version string
	flavor  string // "mysql" or "mariadb"
	gtid    bool   // resume by GTID
	id      uint32 // the server's server_id
}

// check verifies that the server can feed a CDC source and returns what it
// learned. Every failure names the setting or grant to change.
func check(ctx context.Context, db *sql.DB, s *settings) (*serverInfo, error) {
	info := &serverInfo{}
	if err := db.QueryRowContext(ctx, "SELECT VERSION(), @@server_id").Scan(&info.version, &info.id); err != nil {
		return nil, fmt.Errorf("mysql-cdc: query server version: %w", err)
	}
	info.flavor = s.flavor
	if info.flavor == "" {
		info.flavor = "mysql"
		if strings.Contains(strings.ToLower(info.version), "mariadb") {
			info.flavor = "mariadb"
		}
	}
	if missing, err := missingGrants(ctx, db, info.flavor); err != nil {
		return nil, err
	} else if len(missing) > 0 {
		return nil, fmt.Errorf("%w: user %q lacks %s on *.*; the connector needs: GRANT %s ON *.* TO '%s'@'%%'",
			ErrPrivileges, s.user, strings.Join(missing, ", "), strings.Join(neededGrants(info.flavor), ", "), s.user)
	}
	var logBin int
	var format, image string
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image").Scan(&logBin, &format, &image); err != nil {
		return nil, fmt.Errorf("mysql-cdc: read binlog settings: %w", err)
	}
	if logBin != 1 {
		return nil, fmt.Errorf("%w: start the server with log_bin=mysql-bin and a non-zero server_id (my.cnf [mysqld])", ErrBinlogDisabled)
	}
	if !strings.EqualFold(format, "ROW") {
		return nil, fmt.Errorf("%w (it is %s): set binlog_format=ROW in my.cnf or SET GLOBAL binlog_format='ROW' (sessions already open keep the old format)", ErrBinlogFormat, format)
	}
	if !strings.EqualFold(image, "FULL") {
		return nil, fmt.Errorf("%w (it is %s): set binlog_row_image=FULL so updates and deletes carry every column", ErrRowImage, image)
	}
	var meta string
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.binlog_row_metadata").Scan(&meta); err != nil {
		meta = "unsupported by this server version"
	}
	if !strings.EqualFold(meta, "FULL") {
		return nil, fmt.Errorf("%w (it is %s): set binlog_row_metadata=FULL (MySQL 8.0.1+, MariaDB 10.5+) so row events carry column names, signedness and ENUM/SET values", ErrRowMetadata, meta)
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

// neededGrants lists the global privileges the connector asks for.
func neededGrants(flavor string) []string {
	client := "REPLICATION CLIENT"
	if flavor == "mariadb" {
		client = "BINLOG MONITOR"
	}
	return []string{"SELECT", "RELOAD", "SHOW DATABASES", "REPLICATION SLAVE", client}
}

// missingGrants returns the replication privileges the current user does
// not hold on *.*. SELECT and RELOAD are not required globally (per-database
// SELECT is enough, and RELOAD is only used by MySQL snapshots), so only
// the replication ones are checked. A user whose rights come from roles is
// not checked, since SHOW GRANTS does not expand them.
func missingGrants(ctx context.Context, db *sql.DB, flavor string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return nil, fmt.Errorf("mysql-cdc: SHOW GRANTS: %w", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, fmt.Errorf("mysql-cdc: SHOW GRANTS: %w", err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql-cdc: SHOW GRANTS: %w", err)
	}
	return grantsMissing(lines, flavor), nil
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
	rows, err := q.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		// MySQL 8.4 renamed it.
		var err2 error
		if rows, err2 = q.QueryContext(ctx, "SHOW BINARY LOG STATUS"); err2 != nil {
			return nil, fmt.Errorf("mysql-cdc: SHOW MASTER STATUS: %w", err)
		}
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
			return nil, fmt.Errorf("mysql-cdc: SHOW MASTER STATUS: %w", err)
		}
		found = true
	}
	rows.Close()
	if !found {
		return nil, fmt.Errorf("%w: SHOW MASTER STATUS is empty", ErrBinlogDisabled)
	}
	if gtid {
		if p.GTIDs, err = gtidAt(ctx, q, flavor, p.File, p.Pos); err != nil {
			return nil, err
		}
	}
	return p, nil
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
