package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
)

// snapshotter reads every captured table in primary-key-ordered chunks
// inside one consistent-snapshot transaction, and remembers the binlog
// position that transaction saw so streaming continues exactly from it.
//
// A resumed snapshot (after a crash) opens a new transaction, skips the
// tables already done and continues after the last acknowledged key. Rows
// it reads may then be newer than the original position; streaming from
// that position replays every later change, so a consumer applying events
// in order converges to the source (at-least-once, as Debezium's
// incremental snapshots).
type snapshotter struct {
	s     *source
	conn  *sql.Conn
	start *position // binlog position streaming continues from
	ts    time.Time
	// tables holds "db.table" names in order; idx is the one being read.
	tables []tableName
	idx    int
	after  []string // last key read in tables[idx] (text; binary parts hex)
	cur    *snapTable
	// sizeHint is the last record's data size, to size the next buffer.
	sizeHint int
}

type tableName struct{ db, name string }

func (t tableName) String() string { return t.db + "." + t.name }

// snapTable is a table's layout for chunked reads.
type snapTable struct {
	pk      []string // primary key columns, in key order
	pkIdx   []int    // their indexes in cols
	cols    []column
	jsonCol map[string]bool
	ordinal int // rows read, for tables without a primary key
}

func newSnapshotter(ctx context.Context, s *source, resume *position) (*snapshotter, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("mysql-cdc: snapshot connection: %w", err)
	}
	sn := &snapshotter{s: s, conn: conn, ts: time.Now()}
	if err := sn.begin(ctx, resume); err != nil {
		sn.close()
		return nil, err
	}
	if err := sn.listTables(ctx, resume); err != nil {
		sn.close()
		return nil, err
	}
	if resume != nil && resume.Snapshot != nil {
		// Names what is not read again, so an operator can see a restart
		// resumed rather than started over.
		s.log.Info("snapshot resumed", "tables_left", len(sn.tables)-sn.idx, "table", resume.Snapshot.Table,
			"after_key", resume.Snapshot.Key, "file", sn.start.File, "pos", sn.start.Pos, "gtids", sn.start.GTIDs)
	} else {
		s.log.Info("snapshot started", "tables", len(sn.tables), "file", sn.start.File, "pos", sn.start.Pos, "gtids", sn.start.GTIDs)
	}
	return sn, nil
}

// begin opens the consistent-snapshot transaction and fixes the binlog
// position it corresponds to.
func (sn *snapshotter) begin(ctx context.Context, resume *position) error {
	c := sn.conn
	if _, err := c.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return fmt.Errorf("mysql-cdc: snapshot: %w", err)
	}
	// A snapshot resumed from an initial_only position has no binlog
	// coordinates: it takes fresh ones below when it must stream afterwards.
	if resume != nil && (resume.File != "" || resume.GTIDs != "" || sn.s.cfg.snapshotMode == SnapshotInitialOnly) {
		if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			return fmt.Errorf("mysql-cdc: snapshot: %w", err)
		}
		sn.start = &position{File: resume.File, Pos: resume.Pos, GTIDs: resume.GTIDs}
		return nil
	}
	info := sn.s.info
	if sn.s.cfg.snapshotMode == SnapshotInitialOnly {
		// Nothing streams afterwards, so no binlog position is needed, and
		// leaving it out keeps positions and ids equal across snapshots.
		if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			return fmt.Errorf("mysql-cdc: snapshot: %w", err)
		}
		sn.start = &position{}
		return nil
	}
	if info.flavor == "mariadb" {
		// MariaDB reports the binlog position of a consistent snapshot
		// without any global lock.
		if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			return fmt.Errorf("mysql-cdc: snapshot: %w", err)
		}
		p := &position{}
		rows, err := c.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
		if err != nil {
			return fmt.Errorf("mysql-cdc: snapshot position: %w", err)
		}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return fmt.Errorf("mysql-cdc: snapshot position: %w", err)
			}
			switch strings.ToLower(k) {
			case "binlog_snapshot_file":
				p.File = v
			case "binlog_snapshot_position":
				n, _ := strconv.ParseUint(v, 10, 32)
				p.Pos = uint32(n)
			}
		}
		rows.Close()
		if p.File == "" {
			return fmt.Errorf("%w: binlog_snapshot_file is empty", ErrBinlogDisabled)
		}
		if info.gtid {
			var err error
			if p.GTIDs, err = gtidAt(ctx, c, info.flavor, p.File, p.Pos); err != nil {
				return err
			}
		}
		sn.start = p
		return nil
	}
	// MySQL: a brief global read lock makes the position and the
	// snapshot's view agree (needs RELOAD).
	if _, err := c.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		return fmt.Errorf("mysql-cdc: snapshot lock (needs RELOAD): %w", err)
	}
	defer c.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES") //nolint:errcheck // the lock also ends with the session
	if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return fmt.Errorf("mysql-cdc: snapshot: %w", err)
	}
	p, err := masterStatus(ctx, c, info.flavor, info.gtid)
	if err != nil {
		return err
	}
	sn.start = p
	return nil
}

func (sn *snapshotter) listTables(ctx context.Context, resume *position) error {
	rows, err := sn.conn.QueryContext(ctx,
		"SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'")
	if err != nil {
		return fmt.Errorf("mysql-cdc: list tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t tableName
		if err := rows.Scan(&t.db, &t.name); err != nil {
			return fmt.Errorf("mysql-cdc: list tables: %w", err)
		}
		if sn.s.cfg.tableWanted(t.db, t.name) {
			sn.tables = append(sn.tables, t)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mysql-cdc: list tables: %w", err)
	}
	sort.Slice(sn.tables, func(i, j int) bool { return sn.tables[i].String() < sn.tables[j].String() })
	if resume != nil && resume.Snapshot != nil {
		at := resume.Snapshot.Table
		sn.idx = sort.Search(len(sn.tables), func(i int) bool { return sn.tables[i].String() >= at })
		if sn.idx < len(sn.tables) && sn.tables[sn.idx].String() == at {
			sn.after = resume.Snapshot.Key
		}
	}
	return nil
}

// read returns the next chunk's records; done reports that every table is
// read (recs may still hold the last records).
func (sn *snapshotter) read(ctx context.Context) (recs []api.Record, done bool, err error) {
	for len(recs) == 0 {
		if sn.idx >= len(sn.tables) {
			return nil, true, nil
		}
		t := sn.tables[sn.idx]
		if sn.cur == nil {
			if sn.cur, err = sn.layout(ctx, t); err != nil {
				return nil, false, err
			}
		}
		limit := min(sn.s.cfg.chunk, sn.s.cfg.batch)
		var n int
		recs, n, err = sn.chunk(ctx, t, limit)
		if err != nil {
			return nil, false, err
		}
		if n < limit {
			sn.idx++
			sn.cur, sn.after = nil, nil
		}
	}
	return recs, sn.idx >= len(sn.tables), nil
}

// layout reads a table's primary key and JSON columns.
func (sn *snapshotter) layout(ctx context.Context, t tableName) (*snapTable, error) {
	st := &snapTable{}
	rows, err := sn.conn.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`, t.db, t.name)
	if err != nil {
		return nil, fmt.Errorf("mysql-cdc: primary key of %s: %w", t, err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return nil, fmt.Errorf("mysql-cdc: primary key of %s: %w", t, err)
		}
		st.pk = append(st.pk, c)
	}
	rows.Close()
	if sn.s.info.flavor == "mariadb" {
		if st.jsonCol, err = mariadbJSONColumns(ctx, sn.conn, t.db, t.name); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// chunk reads up to limit rows after sn.after and returns them as records
// and how many rows the server returned.
func (sn *snapshotter) chunk(ctx context.Context, t tableName, limit int) ([]api.Record, int, error) {
	st := sn.cur
	var q strings.Builder
	q.WriteString("SELECT * FROM ")
	q.WriteString(quoteIdent(t.db) + "." + quoteIdent(t.name))
	var args []any
	if len(st.pk) > 0 {
		cols := make([]string, len(st.pk))
		marks := make([]string, len(st.pk))
		for i, c := range st.pk {
			cols[i], marks[i] = quoteIdent(c), "?"
		}
		if sn.after != nil {
			if len(sn.after) != len(st.pk) {
				return nil, 0, fmt.Errorf("%w: snapshot key %q does not match the primary key of %s", ErrBadPosition, sn.after, t)
			}
			fmt.Fprintf(&q, " WHERE (%s) > (%s)", strings.Join(cols, ", "), strings.Join(marks, ", "))
			for _, v := range sn.after {
				args = append(args, v)
			}
			if st.cols != nil {
				for i, ci := range st.pkIdx {
					if st.cols[ci].kind == kindBinary {
						b, _ := hex.DecodeString(sn.after[i])
						args[i] = b
					}
				}
			}
		}
		fmt.Fprintf(&q, " ORDER BY %s LIMIT %d", strings.Join(cols, ", "), limit)
	} else {
		fmt.Fprintf(&q, " LIMIT %d OFFSET %d", limit, st.ordinal)
	}
	rows, err := sn.conn.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("mysql-cdc: snapshot %s: %w", t, err)
	}
	defer rows.Close()
	if st.cols == nil {
		types, err := rows.ColumnTypes()
		if err != nil {
			return nil, 0, fmt.Errorf("mysql-cdc: snapshot %s: %w", t, err)
		}
		for _, ct := range types {
			st.cols = append(st.cols, textColumn(ct.Name(), ct.DatabaseTypeName(), st.jsonCol))
		}
		for _, k := range st.pk {
			for i, c := range st.cols {
				if c.name == k {
					st.pkIdx = append(st.pkIdx, i)
				}
			}
		}
		if sn.after != nil { // binary key parts arrive hex-encoded: redo
			rows.Close()
			return sn.chunk(ctx, t, limit)
		}
	}
	vals := make([]sql.RawBytes, len(st.cols))
	dst := make([]any, len(vals))
	for i := range vals {
		dst[i] = &vals[i]
	}
	var recs []api.Record
	now := time.Now()
	s := sn.s
	subject := t.String()
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			return nil, 0, fmt.Errorf("mysql-cdc: snapshot %s: %w", t, err)
		}
		d := beginEnvelope(sn.sizeHint)
		d = append(d, `null,"after":`...)
		d, err := renderText(d, st.cols, nil, vals)
		if err != nil {
			return nil, 0, fmt.Errorf("mysql-cdc: snapshot %s: %w", t, err)
		}
		var key []byte
		var keyParts []string
		if len(st.pkIdx) > 0 {
			if key, err = renderText(nil, st.cols, st.pkIdx, vals); err != nil {
				return nil, 0, err
			}
			keyParts = make([]string, len(st.pkIdx))
			for i, ci := range st.pkIdx {
				if st.cols[ci].kind == kindBinary {
					keyParts[i] = hex.EncodeToString(vals[ci])
				} else {
					keyParts[i] = string(vals[ci])
				}
			}
		}
		st.ordinal++
		p := position{File: sn.start.File, Pos: sn.start.Pos, GTIDs: sn.start.GTIDs,
			Snapshot: &snapshotPos{Table: t.String(), Key: keyParts}}
		id := "r:" + t.String() + ":"
		if sn.start.File != "" {
			id = "r:" + sn.start.File + ":" + strconv.FormatUint(uint64(sn.start.Pos), 10) + ":" + t.String() + ":"
		}
		if keyParts != nil {
			id += string(key)
		} else {
			id += "#" + strconv.Itoa(st.ordinal)
		}
		o := origin{serverID: s.info.id, ts: sn.ts, snapshot: true, db: t.db, tbl: t.name,
			file: sn.start.File, pos: sn.start.Pos, gtid: ""}
		d = s.finishEnvelope(d, 'r', &o, now)
		sn.sizeHint = len(d) + 64
		recs = append(recs, s.newRecord('r', subject, d, key, sn.ts, id, p.encode()))
		sn.after = keyParts
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("mysql-cdc: snapshot %s: %w", t, err)
	}
	return recs, len(recs), nil
}

// renderText renders text-protocol values as a JSON object of the
// columns in idx (all when nil).
func renderText(b []byte, cols []column, idx []int, vals []sql.RawBytes) ([]byte, error) {
	return renderRow(b, cols, idx, vals, func(b []byte, c *column, v sql.RawBytes) ([]byte, error) {
		if v == nil {
			return append(b, "null"...), nil
		}
		return appendText(b, c, string(v))
	})
}

// mariadbJSONColumns returns the columns of db.table declared JSON: MariaDB
// stores them as LONGTEXT with a json_valid check, which is the only trace
// of the type.
func mariadbJSONColumns(ctx context.Context, q queryer, db, table string) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
		WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`, db, table)
	if err != nil {
		return nil, fmt.Errorf("mysql-cdc: JSON columns of %s.%s: %w", db, table, err)
	}
	defer rows.Close()
	var out map[string]bool
	for rows.Next() {
		var clause string
		if err := rows.Scan(&clause); err != nil {
			return nil, fmt.Errorf("mysql-cdc: JSON columns of %s.%s: %w", db, table, err)
		}
		if c, ok := jsonValidColumn(clause); ok {
			if out == nil {
				out = map[string]bool{}
			}
			out[c] = true
		}
	}
	return out, rows.Err()
}

// jsonValidColumn extracts col from a check clause "json_valid(`col`)".
func jsonValidColumn(clause string) (string, bool) {
	c := strings.TrimSpace(clause)
	if !strings.HasPrefix(strings.ToLower(c), "json_valid(`") || !strings.HasSuffix(c, "`)") {
		return "", false
	}
	name := c[len("json_valid(`") : len(c)-2]
	if strings.Contains(strings.ReplaceAll(name, "``", ""), "`") {
		return "", false
	}
	return strings.ReplaceAll(name, "``", "`"), true
}

// close ends the snapshot transaction. A connection that cannot roll back
// is discarded rather than returned to the pool inside a transaction.
func (sn *snapshotter) close() {
	if sn.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := sn.conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		_ = sn.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = sn.conn.Close()
	sn.conn = nil
}
