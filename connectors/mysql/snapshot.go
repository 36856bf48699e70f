package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	drv "github.com/go-sql-driver/mysql"

	"github.com/ferryhq/ferry/api"
)

// snapshotter reads every captured table in primary-key-ordered chunks,
// up to snapshot.max.threads tables at once, each reader on its own
// connection inside a consistent-snapshot transaction; all the readers'
// transactions see the same instant, whose binlog position streaming
// continues from.
//
// Reading goes in rounds: a round reads the next chunk of each of the
// first max.threads unfinished tables (in name order) concurrently, then
// appends their records, table by table, to the records Read hands out.
// The goroutines of a round end with it, so none outlives a Read.
//
// A resumed snapshot (after a crash) opens new transactions, skips the
// tables already done and continues every table in progress after its
// last acknowledged key. Rows it reads may then be newer than the
// original position; streaming from that position replays every later
// change, so a consumer applying events in order converges to the source
// (at-least-once, as Debezium's incremental snapshots).
type snapshotter struct {
	s     *source
	conns []*sql.Conn // one per reader
	start *position   // binlog position streaming continues from
	ts    time.Time
	prog  *progress
	// tables holds the captured tables in name order (prog's order);
	// layouts[i] is tables[i]'s layout while it is being read.
	tables  []tableName
	layouts []*snapTable
	// buf holds the last round's records not yet returned by read.
	buf []api.Record
	// rows and queries count what this snapshotter read, for its log.
	rows, queries int
	locked        bool // the readers' transactions began under a global read lock
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
	// sizeHint is the last record's data size, to size the next buffer.
	sizeHint int
}

// lockFreeAttempts is how often a MariaDB snapshot with several readers
// tries to open their transactions at one binlog position before it takes
// a global read lock: every commit between two of the openings spoils an
// attempt, so a busy server needs the lock. (source.lockFreeAttempts
// holds it, so tests can make the attempts fail.)
const lockFreeAttempts = 20

func newSnapshotter(ctx context.Context, s *source, resume *position) (*snapshotter, error) {
	sn := &snapshotter{s: s, ts: time.Now()}
	for range s.cfg.threads {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			sn.close()
			return nil, fmt.Errorf("mysql-cdc: snapshot connection: %w", err)
		}
		sn.conns = append(sn.conns, conn)
		if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			sn.close()
			return nil, fmt.Errorf("mysql-cdc: snapshot: %w", err)
		}
	}
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
		s.log.Info("snapshot resumed", "tables_left", sn.prog.left, "table", resume.Snapshot.Table,
			"after_key", resume.Snapshot.Key, "open", len(resume.Snapshot.Open), "threads", len(sn.conns),
			"file", sn.start.File, "pos", sn.start.Pos, "gtids", sn.start.GTIDs)
	} else {
		s.log.Info("snapshot started", "tables", len(sn.tables), "threads", len(sn.conns), "locked", sn.locked,
			"file", sn.start.File, "pos", sn.start.Pos, "gtids", sn.start.GTIDs)
	}
	return sn, nil
}

// begin opens the readers' consistent-snapshot transactions and fixes the
// binlog position they correspond to.
func (sn *snapshotter) begin(ctx context.Context, resume *position) error {
	mode := sn.s.cfg.snapshotMode
	// A snapshot resumed from an initial_only position has no binlog
	// coordinates: it takes fresh ones below when it must stream afterwards.
	if resume != nil && (resume.File != "" || resume.GTIDs != "" || mode == SnapshotInitialOnly) {
		// The resumed part is at-least-once anyway (see snapshotter), so
		// its readers need not share an instant.
		if err := sn.startAll(ctx); err != nil {
			return err
		}
		sn.start = &position{File: resume.File, Pos: resume.Pos, GTIDs: resume.GTIDs}
		return nil
	}
	if mode == SnapshotInitialOnly && len(sn.conns) == 1 {
		// Nothing streams afterwards, so no binlog position is needed, and
		// leaving it out keeps positions and ids equal across snapshots.
		if err := sn.startAll(ctx); err != nil {
			return err
		}
		sn.start = &position{}
		return nil
	}
	var err error
	if sn.s.info.flavor == "mariadb" {
		err = sn.beginMariaDB(ctx)
	} else {
		err = sn.beginMySQL(ctx)
	}
	if err != nil {
		return err
	}
	if mode == SnapshotInitialOnly {
		sn.start = &position{} // as above: the readers still share an instant
	}
	return nil
}

// startAll opens a consistent-snapshot transaction on every reader.
func (sn *snapshotter) startAll(ctx context.Context) error {
	for _, c := range sn.conns {
		if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			return fmt.Errorf("mysql-cdc: snapshot: %w", err)
		}
	}
	return nil
}

// beginMariaDB takes the snapshot without a lock when it can: MariaDB
// reports each consistent snapshot's binlog position
// (binlog_snapshot_file/position), and readers whose snapshots report the
// same position saw the same set of committed transactions. When writes
// keep them apart it takes the global read lock; when the server refuses
// it, or snapshot.locking.mode is none, it drops to one reader, which never
// needs the lock. Either way the snapshot is exact.
func (sn *snapshotter) beginMariaDB(ctx context.Context) error {
	for range sn.s.lockFreeAttempts {
		p, same, err := sn.snapshotPositions(ctx)
		if err != nil {
			return err
		}
		if same {
			return sn.setStart(ctx, p)
		}
		for _, c := range sn.conns {
			if _, err := c.ExecContext(ctx, "ROLLBACK"); err != nil {
				return fmt.Errorf("mysql-cdc: snapshot: %w", err)
			}
		}
	}
	if sn.s.cfg.locking == LockingNone {
		sn.s.log.Warn("snapshot readers could not share an instant without FLUSH TABLES WITH READ LOCK, which snapshot.locking.mode=none forbids; reading one table at a time",
			"threads", len(sn.conns))
	} else {
		err := sn.beginLocked(ctx)
		if err == nil || !lockUnavailable(err) {
			return err
		}
		sn.s.log.Warn("snapshot readers could not share an instant without FLUSH TABLES WITH READ LOCK, which the server refused or did not grant within snapshot.lock.timeout.ms; reading one table at a time",
			"threads", len(sn.conns), "error", err)
	}
	for _, c := range sn.conns {
		_, _ = c.ExecContext(ctx, "ROLLBACK") // a failed attempt may have left one open
	}
	for _, c := range sn.conns[1:] {
		_ = c.Close()
	}
	sn.conns = sn.conns[:1]
	p, _, err := sn.snapshotPositions(ctx)
	if err != nil {
		return err
	}
	return sn.setStart(ctx, p)
}

// snapshotPositions opens every reader's transaction and returns the first
// one's binlog position and whether all readers report the same.
func (sn *snapshotter) snapshotPositions(ctx context.Context) (*position, bool, error) {
	var first *position
	same := true
	for _, c := range sn.conns {
		if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			return nil, false, fmt.Errorf("mysql-cdc: snapshot: %w", err)
		}
		p, err := snapshotPosition(ctx, c)
		if err != nil {
			return nil, false, err
		}
		if first == nil {
			first = p
		} else if *p != *first {
			same = false
		}
	}
	return first, same, nil
}

// snapshotPosition reads the binlog position of c's consistent snapshot
// (MariaDB).
func snapshotPosition(ctx context.Context, c *sql.Conn) (*position, error) {
	p := &position{}
	rows, err := c.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return nil, fmt.Errorf("mysql-cdc: snapshot position: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("mysql-cdc: snapshot position: %w", err)
		}
		switch strings.ToLower(k) {
		case "binlog_snapshot_file":
			p.File = v
		case "binlog_snapshot_position":
			n, _ := strconv.ParseUint(v, 10, 32)
			p.Pos = uint32(n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql-cdc: snapshot position: %w", err)
	}
	if p.File == "" {
		return nil, fmt.Errorf("%w: binlog_snapshot_file is empty", ErrBinlogDisabled)
	}
	return p, nil
}

func (sn *snapshotter) setStart(ctx context.Context, p *position) error {
	if sn.s.info.gtid {
		var err error
		if p.GTIDs, err = gtidAt(ctx, sn.conns[0], sn.s.info.flavor, p.File, p.Pos); err != nil {
			return err
		}
	}
	sn.start = p
	return nil
}

// lockUnavailable reports whether FLUSH TABLES WITH READ LOCK failed for
// want of a privilege (RELOAD; managed servers forbid it) or ran out of
// snapshot.lock.timeout.ms (1205: a long statement, or on MariaDB a
// transaction that changed data and waits for the lock itself).
func lockUnavailable(err error) bool {
	var me *drv.MySQLError
	return errors.As(err, &me) && (me.Number == 1227 || me.Number == 1044 || me.Number == 1045 || me.Number == 1205)
}

// beginMySQL opens the readers under the global read lock
// (snapshot.locking.mode=minimal), or without it when the mode is none or
// the server refuses the lock.
func (sn *snapshotter) beginMySQL(ctx context.Context) error {
	if sn.s.cfg.locking == LockingNone {
		return sn.beginUnlocked(ctx)
	}
	err := sn.beginLocked(ctx)
	if err == nil || !lockUnavailable(err) {
		return err
	}
	for _, c := range sn.conns {
		_, _ = c.ExecContext(ctx, "ROLLBACK") // the failed attempt may have left one open
	}
	if !sn.s.info.gtid && sn.s.cfg.snapshotMode != SnapshotInitialOnly {
		if isServerError(err, 1205) { // a busy moment: the engine retries the Open
			return fmt.Errorf("%w; without GTIDs a MySQL snapshot cannot do without it (set gtid_mode=ON to let it, or raise source.snapshot.lock.timeout.ms)", err)
		}
		return api.Fatal(fmt.Errorf("%w: the snapshot's FLUSH TABLES WITH READ LOCK was refused (%v), and without it a MySQL snapshot can only be tied to the binlog by GTID, which this server does not use; grant RELOAD (GRANT RELOAD ON *.* TO the connector's user), or turn GTIDs on (gtid_mode=ON with enforce_gtid_consistency=ON) and leave source.gtid.mode at auto",
			ErrPrivileges, err))
	}
	sn.s.log.Warn("FLUSH TABLES WITH READ LOCK refused or not granted within snapshot.lock.timeout.ms; taking the snapshot without it, as with snapshot.locking.mode=none", "error", err)
	return sn.beginUnlocked(ctx)
}

// beginUnlocked opens the readers without a lock (MySQL): it reads
// gtid_executed first and only then opens the readers' snapshots. MySQL adds
// a transaction to gtid_executed after its storage-engine commit, so every
// transaction in the set read is visible to the snapshots opened later, and
// streaming from that set misses nothing. It repeats the transactions
// committed between the read and the last reader's opening (milliseconds),
// which the snapshot holds already: at-least-once, not exact. A binlog
// file:pos cannot replace the GTIDs: the position includes transactions
// written to the binlog but not yet committed in the engine, which a
// snapshot opened after it may not see and streaming from it would skip.
func (sn *snapshotter) beginUnlocked(ctx context.Context) error {
	if sn.s.cfg.snapshotMode == SnapshotInitialOnly {
		// Nothing streams afterwards, so no position is needed; the readers
		// open a moment apart.
		return sn.startAll(ctx)
	}
	if !sn.s.info.gtid {
		return api.Fatal(fmt.Errorf("%w: snapshot.locking.mode=none on MySQL needs GTID positions, and this server does not use them (or source.gtid.mode is off): turn GTIDs on (gtid_mode=ON with enforce_gtid_consistency=ON) and leave source.gtid.mode at auto, or grant RELOAD and use snapshot.locking.mode=minimal",
			ErrLockingMode))
	}
	c := sn.conns[0]
	var gtids sql.NullString
	if err := c.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_executed").Scan(&gtids); err != nil {
		return fmt.Errorf("mysql-cdc: read GTID position: %w", err)
	}
	p, err := masterStatus(ctx, c, sn.s.info.flavor, false)
	if err != nil {
		return err
	}
	p.GTIDs = strings.ReplaceAll(gtids.String, "\n", "")
	if p.GTIDs == "" {
		// Nothing has a GTID yet, so a resume cannot be by GTID: replay the
		// whole current binlog file instead, which holds every transaction
		// that may have been in flight.
		p.Pos = 4
	}
	if err := sn.startAll(ctx); err != nil {
		return err
	}
	sn.start = p
	return nil
}

// beginLocked opens every reader's transaction under a brief global read
// lock (needs RELOAD), so the transactions and the binlog position agree:
// MySQL's way, and MariaDB's when writes keep lock-free openings apart.
func (sn *snapshotter) beginLocked(ctx context.Context) error {
	c := sn.conns[0]
	// The lock blocks every write while it waits for running statements
	// (on MariaDB also for transactions that changed data, which then wait
	// for the lock themselves): bound the wait.
	secs := int((sn.s.cfg.lockTimeout + time.Second - 1) / time.Second)
	if _, err := c.ExecContext(ctx, "SET SESSION lock_wait_timeout = "+strconv.Itoa(secs)); err != nil {
		return fmt.Errorf("mysql-cdc: snapshot lock: %w", err)
	}
	defer c.ExecContext(context.WithoutCancel(ctx), "SET SESSION lock_wait_timeout = DEFAULT") //nolint:errcheck // only the lock's wait needs the bound
	if _, err := c.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		return fmt.Errorf("mysql-cdc: snapshot lock (FLUSH TABLES WITH READ LOCK needs RELOAD): %w", err)
	}
	sn.locked = true
	defer c.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES") //nolint:errcheck // the lock also ends with the session
	if err := sn.startAll(ctx); err != nil {
		return err
	}
	p, err := masterStatus(ctx, c, sn.s.info.flavor, sn.s.info.gtid)
	if err != nil {
		return err
	}
	sn.start = p
	return nil
}

func (sn *snapshotter) listTables(ctx context.Context, resume *position) error {
	rows, err := sn.conns[0].QueryContext(ctx,
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
	names := make([]string, len(sn.tables))
	for i, t := range sn.tables {
		names[i] = t.String()
	}
	var at *snapshotPos
	if resume != nil {
		at = resume.Snapshot
	}
	sn.prog = newProgress(names, at, sn.limit())
	sn.layouts = make([]*snapTable, len(sn.tables))
	return nil
}

// read returns the next records; done reports that every table is read
// (recs may still hold the last records).
func (sn *snapshotter) read(ctx context.Context) (recs []api.Record, done bool, err error) {
	for len(sn.buf) == 0 {
		if sn.prog.finished() {
			return nil, true, nil
		}
		if err := sn.round(ctx); err != nil {
			return nil, false, err
		}
	}
	n := min(len(sn.buf), sn.s.cfg.batch)
	recs, sn.buf = sn.buf[:n:n], sn.buf[n:]
	if len(sn.buf) == 0 {
		sn.buf = nil
	}
	return recs, sn.buf == nil && sn.prog.finished(), nil
}

// chunkResult is one reader's chunk: its records (positions not yet set),
// each record's key, and how many SELECTs it took.
type chunkResult struct {
	recs    []api.Record
	keys    [][]string
	queries int
	err     error
}

// round reads the next chunk of up to len(conns) tables concurrently and
// queues their records.
func (sn *snapshotter) round(ctx context.Context) error {
	active := sn.prog.start(len(sn.conns))
	limit := sn.limit()
	res := make([]chunkResult, len(active))
	want := make([]int, len(active))
	for j, i := range active {
		want[j] = sn.prog.want(i, limit)
	}
	read := func(j int) {
		i := active[j]
		r := &res[j]
		if sn.layouts[i] == nil {
			if sn.layouts[i], r.err = sn.layout(ctx, sn.conns[j], sn.tables[i]); r.err != nil {
				return
			}
		}
		r.recs, r.keys, r.queries, r.err = sn.chunk(ctx, sn.conns[j], i, sn.prog.keys[i], want[j])
	}
	if len(active) == 1 {
		read(0)
	} else {
		var wg sync.WaitGroup
		for j := range active {
			wg.Go(func() { read(j) })
		}
		wg.Wait()
	}
	for _, r := range res {
		if r.err != nil {
			return r.err
		}
	}
	for j, i := range active {
		sn.queue(i, &res[j], len(res[j].recs) < want[j])
	}
	return nil
}

// limit is the rows per chunk SELECT.
func (sn *snapshotter) limit() int { return min(sn.s.cfg.chunk, sn.s.cfg.batch) }

// queue sets the positions of table i's chunk, each naming every table's
// progress as of that record, and appends the records to buf.
func (sn *snapshotter) queue(i int, r *chunkResult, final bool) {
	name := sn.prog.names[i]
	sn.s.snapQueries[name] += r.queries
	sn.queries += r.queries
	sn.rows += len(r.recs)
	if sps := sn.prog.chunk(i, r.keys, final); len(sps) > 0 {
		head := appendSnapshotHead(nil, sn.start, name)
		tail := appendSnapshotTail(nil, sps[0].Open, sps[0].Through) // shared by the chunk
		for k := range sps {
			b := make([]byte, 0, len(head)+len(tail)+32)
			r.recs[k].Position = appendSnapshot(b, head, &sps[k], tail)
		}
	}
	if final {
		sn.layouts[i] = nil
	}
	sn.buf = append(sn.buf, r.recs...)
}

// layout reads a table's primary key and JSON columns.
func (sn *snapshotter) layout(ctx context.Context, c *sql.Conn, t tableName) (*snapTable, error) {
	st := &snapTable{}
	rows, err := c.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
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
		if st.jsonCol, err = mariadbJSONColumns(ctx, c, t.db, t.name); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// chunk reads up to limit rows of table i after key after on c and returns
// them as records without positions, each record's key parts, and how many
// SELECTs it ran. It touches only table i's layout, so chunks of different
// tables run concurrently.
func (sn *snapshotter) chunk(ctx context.Context, c *sql.Conn, i int, after []string, limit int) ([]api.Record, [][]string, int, error) {
	t, st := sn.tables[i], sn.layouts[i]
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
		if after != nil {
			if len(after) != len(st.pk) {
				return nil, nil, 0, fmt.Errorf("%w: snapshot key %q does not match the primary key of %s", ErrBadPosition, after, t)
			}
			fmt.Fprintf(&q, " WHERE (%s) > (%s)", strings.Join(cols, ", "), strings.Join(marks, ", "))
			for _, v := range after {
				args = append(args, v)
			}
			if st.cols != nil {
				for i, ci := range st.pkIdx {
					if st.cols[ci].kind == kindBinary {
						b, _ := hex.DecodeString(after[i])
						args[i] = b
					}
				}
			}
		}
		fmt.Fprintf(&q, " ORDER BY %s LIMIT %d", strings.Join(cols, ", "), limit)
	} else {
		fmt.Fprintf(&q, " LIMIT %d OFFSET %d", limit, st.ordinal)
	}
	rows, err := c.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, nil, 1, fmt.Errorf("mysql-cdc: snapshot %s: %w", t, err)
	}
	defer rows.Close()
	if st.cols == nil {
		types, err := rows.ColumnTypes()
		if err != nil {
			return nil, nil, 1, fmt.Errorf("mysql-cdc: snapshot %s: %w", t, err)
		}
		for _, ct := range types {
			st.cols = append(st.cols, textColumn(ct.Name(), ct.DatabaseTypeName(), st.jsonCol))
		}
		binaryKey := false
		for _, k := range st.pk {
			for i, c := range st.cols {
				if c.name == k {
					st.pkIdx = append(st.pkIdx, i)
					binaryKey = binaryKey || c.kind == kindBinary
				}
			}
		}
		if after != nil && binaryKey { // binary key parts arrive hex-encoded: redo
			rows.Close()
			recs, keys, n, err := sn.chunk(ctx, c, i, after, limit)
			return recs, keys, n + 1, err
		}
	}
	vals := make([]sql.RawBytes, len(st.cols))
	dst := make([]any, len(vals))
	for i := range vals {
		dst[i] = &vals[i]
	}
	var recs []api.Record
	var keys [][]string
	now := time.Now()
	s := sn.s
	subject := t.String()
	idPrefix := "r:" + subject + ":"
	if sn.start.File != "" {
		idPrefix = "r:" + sn.start.File + ":" + strconv.FormatUint(uint64(sn.start.Pos), 10) + ":" + subject + ":"
	}
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			return nil, nil, 1, fmt.Errorf("mysql-cdc: snapshot %s: %w", t, err)
		}
		d := beginEnvelope(st.sizeHint)
		d = append(d, `null,"after":`...)
		d, err := renderText(d, st.cols, nil, vals)
		if err != nil {
			return nil, nil, 1, fmt.Errorf("mysql-cdc: snapshot %s: %w", t, err)
		}
		var key []byte
		var keyParts []string
		if len(st.pkIdx) > 0 {
			if key, err = renderText(nil, st.cols, st.pkIdx, vals); err != nil {
				return nil, nil, 1, err
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
		id := idPrefix
		if keyParts != nil {
			id += string(key)
		} else {
			id += "#" + strconv.Itoa(st.ordinal)
		}
		o := origin{serverID: s.info.id, ts: sn.ts, snapshot: true, db: t.db, tbl: t.name,
			file: sn.start.File, pos: sn.start.Pos, gtid: ""}
		d = s.finishEnvelope(d, 'r', &o, now)
		st.sizeHint = len(d) + 64
		recs = append(recs, s.newRecord('r', subject, d, key, sn.ts, id, nil))
		keys = append(keys, keyParts)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, 1, fmt.Errorf("mysql-cdc: snapshot %s: %w", t, err)
	}
	return recs, keys, 1, nil
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

// close ends the readers' transactions. A connection that cannot roll
// back is discarded rather than returned to the pool inside a transaction.
func (sn *snapshotter) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, c := range sn.conns {
		if _, err := c.ExecContext(ctx, "ROLLBACK"); err != nil {
			_ = c.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = c.Close()
	}
	sn.conns = nil
}

// progress is the snapshot's state per table, in name order: done, in
// progress after a key, or not started. Tables start in name order, so the
// started ones are exactly those up to through. It does no I/O: the
// snapshotter drives it and encodes it into every record's position, and
// newProgress rebuilds it from a committed position.
//
// Reading goes in rounds over the first max.threads unfinished tables, each
// table's chunks a fixed limit rows from its first row. A resumed snapshot
// first completes the round its committed record was in — the rest of that
// record's chunk, then the tables after it in the round — so the records
// after a commit come in the order they came before, with the same ids and
// positions (as long as the thread count and chunk size are unchanged).
type progress struct {
	names   []string   // "db.table", sorted
	done    []bool     // read completely
	keys    [][]string // last key delivered (nil: none, or no primary key)
	rows    []int      // rows delivered
	through int        // index of the last table started; -1 before any
	left    int        // tables not done
	pending []int      // the rest of the round a resume started in
}

// newProgress is the state of a snapshot of tables names (sorted) resumed
// at pos (nil: a new snapshot) reading chunks of limit rows.
func newProgress(names []string, pos *snapshotPos, limit int) *progress {
	p := &progress{names: names, done: make([]bool, len(names)), keys: make([][]string, len(names)),
		rows: make([]int, len(names)), through: -1, left: len(names)}
	if pos == nil {
		return p
	}
	last := max(pos.Table, pos.Through)
	open := make(map[string]tableKeys, len(pos.Open))
	for _, o := range pos.Open {
		open[o.Table] = o
		last = max(last, o.Table)
	}
	own := -1
	for i, n := range names {
		if n > last {
			break
		}
		p.through = i
		if o, ok := open[n]; ok {
			p.keys[i] = o.Key
			if o.Key != nil { // else it starts over
				p.rows[i] = o.Rows
			}
		} else if n == pos.Table && !pos.Done {
			p.keys[i], own = pos.Key, i
			if pos.Key != nil { // else it starts over
				p.rows[i] = pos.Rows
			}
		} else {
			// A table the snapshot had passed, or one that did not exist
			// when it began: the binlog after the snapshot's position
			// holds all its rows.
			p.done[i] = true
			p.left--
		}
		if n <= pos.Table {
			continue
		}
		// Started, unfinished tables after the record's own were in its
		// round and had not delivered their chunk of it yet.
		if !p.done[i] {
			p.pending = append(p.pending, i)
		}
	}
	if own >= 0 && p.rows[own]%limit != 0 && p.keys[own] != nil {
		p.pending = append([]int{own}, p.pending...)
	}
	return p
}

func (p *progress) finished() bool { return p.left == 0 }

// start returns the tables the next round reads — the rest of a resumed
// round, else the first n not done, in name order — and marks them
// started.
func (p *progress) start(n int) []int {
	if out := p.pending; out != nil {
		p.pending = nil
		return out[:min(n, len(out))]
	}
	var out []int
	for i := range p.names {
		if len(out) == n {
			break
		}
		if !p.done[i] {
			out = append(out, i)
			p.through = max(p.through, i)
		}
	}
	return out
}

// want is how many rows table i's next chunk asks for: up to the next
// multiple of limit, so chunks stay where they were before a resume.
func (p *progress) want(i, limit int) int { return limit - p.rows[i]%limit }

// chunk returns the snapshot positions of table i's next records, whose
// keys are keys, and moves past them; final says the chunk ends the table
// (it may be empty). Every position names the whole state as of its
// record, so any committed prefix of the records resumes exactly.
func (p *progress) chunk(i int, keys [][]string, final bool) []snapshotPos {
	// The other tables do not move during the chunk.
	var open []tableKeys
	for j := 0; j <= p.through; j++ {
		if j != i && !p.done[j] {
			open = append(open, tableKeys{Table: p.names[j], Key: p.keys[j], Rows: p.rows[j]})
		}
	}
	var through string
	if p.through > i && p.done[p.through] {
		through = p.names[p.through]
	}
	out := make([]snapshotPos, len(keys))
	for k, key := range keys {
		p.rows[i]++
		out[k] = snapshotPos{Table: p.names[i], Key: key, Rows: p.rows[i], Done: final && k == len(keys)-1, Open: open, Through: through}
		p.keys[i] = key
	}
	if final && !p.done[i] {
		p.done[i], p.keys[i] = true, nil
		p.left--
	}
	return out
}
