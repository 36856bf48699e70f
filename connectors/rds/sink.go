package rds

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/bits"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/transform/template"
)

// Sink is the rds sink plugin.
var Sink = api.SinkPlugin{
	Name:     "rds",
	Summary:  "Writes events to MySQL or RDS for MySQL: mapped inserts or upserts, custom SQL, or Debezium change events applied by primary key.",
	Spec:     spec,
	New:      newSink,
	Validate: validate,
}

type sink struct {
	cfg       *settings
	connector string
	log       *slog.Logger
	paths     *template.Template // the JSONPath columns or params, rendered together

	db     *sql.DB
	meta   *metaCache
	stmts  stmtCache
	shapes shapes
	seed   maphash.Seed

	buf []byte // reused render buffer (Write is never concurrent)
}

func newSink(tc api.TaskConfig) (api.Sink, error) {
	cfg, err := parseSettings(tc.Config)
	if err != nil {
		return nil, err
	}
	s := &sink{cfg: cfg, connector: tc.Connector, log: tc.Logger, seed: maphash.MakeSeed()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	cols := cfg.columns
	if cfg.mode == modeSQL {
		cols = cfg.params
	}
	if s.paths, err = pathTemplate(cols); err != nil {
		return nil, fmt.Errorf("rds sink: %w", err)
	}
	return s, nil
}

func (s *sink) Open(ctx context.Context) error {
	mc := mysql.NewConfig()
	mc.User = s.cfg.user
	mc.Passwd = s.cfg.password
	mc.Net = "tcp"
	mc.Addr = s.cfg.host + ":" + strconv.Itoa(s.cfg.port)
	mc.DBName = s.cfg.database
	mc.Timeout = time.Duration(s.cfg.connectTimeout)
	mc.TLSConfig = s.cfg.tls
	// A read-only server (a failed-over RDS primary) drops the connection
	// so the pool reconnects to the new primary.
	mc.RejectReadOnly = true
	// TIMESTAMP values arrive in UTC; the session zone makes the server
	// store them as given.
	mc.Params = map[string]string{"time_zone": "'+00:00'"}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return api.Fatal(fmt.Errorf("rds sink: %w", err))
	}
	db := sql.OpenDB(conn)
	// Parallel transactions each hold a connection while a statement is
	// prepared on another, so the pool needs one more than parallelism.
	conns := max(s.cfg.poolSize, s.cfg.parallelism+1)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return engineError("connect to "+mc.Addr, err)
	}
	if s.cfg.exactlyOnce {
		if _, err := db.ExecContext(ctx, offsetsDDL(s.cfg.offsetsTable)); err != nil {
			db.Close()
			return engineError("create "+s.cfg.offsetsTable, err)
		}
	}
	s.db = db
	s.meta = newMetaCache(db, s.cfg.database)
	s.stmts = stmtCache{db: db}
	return nil
}

// Close releases the pool; ctx is not needed since closing idle
// connections does not wait on the server.
func (s *sink) Close(ctx context.Context) error {
	if s.db == nil {
		return nil
	}
	s.stmts.close()
	err := s.db.Close()
	s.db = nil
	return err
}

// op is one statement row: a row to insert or upsert, a key to delete, or
// one execution of the custom SQL.
type op struct {
	rec   int // index of its record in the batch
	shape *shape
	args  []any
	key   uint64 // hash of table and primary key, to partition by key
}

func (s *sink) Write(ctx context.Context, records []api.Record) error {
	if len(records) == 0 {
		return nil
	}
	if s.db == nil {
		return api.Fatal(errors.New("rds sink: Write before Open"))
	}
	rejected := map[int]error{}
	var ops []op
	var err error
	switch s.cfg.mode {
	case modeCDC:
		ops, err = s.cdcOps(ctx, records, rejected)
	case modeSQL:
		ops, err = s.execOps(records, rejected)
	default:
		ops, err = s.rowOps(ctx, records, rejected)
	}
	if err != nil {
		return err
	}
	if len(ops) == 0 && !s.cfg.exactlyOnce {
		return recordErrors(ctx, rejected)
	}
	if s.cfg.parallelism > 1 && len(ops) > 1 {
		err = s.applyParallel(ctx, records, ops, rejected)
	} else {
		err = s.apply(ctx, records, ops, rejected)
	}
	if err != nil {
		return err
	}
	return recordErrors(ctx, rejected)
}

// recordErrors reports the rejected records in batch order, or nil.
func recordErrors(ctx context.Context, rejected map[int]error) error {
	if len(rejected) == 0 {
		return nil
	}
	out := make(api.RecordErrors, 0, len(rejected))
	for i, err := range rejected {
		out = append(out, kit.Reject(i, err))
	}
	return kit.WriteResult(ctx, out, nil)
}

// applyParallel partitions ops by key hash and applies each partition in
// its own transaction at the same time: a key's operations stay in one
// partition, in order (kit.PartitionByKey, kit.RunParallel). A partition
// that committed is replayed with the rest on retry, which upserts and
// deletes by key make harmless. The joined error is Fatal when any part's
// is.
func (s *sink) applyParallel(ctx context.Context, records []api.Record, ops []op, rejected map[int]error) error {
	parts := kit.PartitionByKey(ops, s.cfg.parallelism, func(o *op) uint64 { return o.key })
	bad, err := kit.RunParallel(ctx, parts, len(parts), func(ctx context.Context, part []op) (api.RecordErrors, error) {
		rej := map[int]error{}
		err := s.apply(ctx, records, part, rej)
		out := make(api.RecordErrors, 0, len(rej))
		for i, e := range rej {
			out = append(out, api.RecordError{Index: i, Err: e})
		}
		return out, err
	})
	for _, re := range bad {
		rejected[re.Index] = re.Err
	}
	return err
}

// apply runs ops in one transaction (with the positions, when exactly
// once). When a statement fails because of a record's data, it rolls back
// and runs the ops again record by record, each under a savepoint, so only
// the records at fault are rejected.
func (s *sink) apply(ctx context.Context, records []api.Record, ops []op, rejected map[int]error) error {
	err := s.runTx(ctx, records, ops, rejected, false)
	if err == nil {
		return nil
	}
	if classify(err) != kit.RecordFault {
		return engineError("write", err)
	}
	s.meta.forgetAll() // a missing table or column may have been created since
	if err := s.runTx(ctx, records, ops, rejected, true); err != nil {
		return engineError("write", err)
	}
	return nil
}

func (s *sink) runTx(ctx context.Context, records []api.Record, ops []op, rejected map[int]error, isolate bool) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if isolate {
		err = s.execIsolated(ctx, tx, ops, rejected)
	} else {
		err = s.execRuns(ctx, tx, ops)
	}
	if err != nil {
		return err
	}
	if s.cfg.exactlyOnce {
		if err := s.storePositions(ctx, tx, records, rejected); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// execRuns executes consecutive ops of one shape as multi-row statements.
func (s *sink) execRuns(ctx context.Context, tx *sql.Tx, ops []op) error {
	var args []any
	for lo := 0; lo < len(ops); {
		sh := ops[lo].shape
		limit := 1
		if sh.kind != opExec {
			limit = max(1, min(s.cfg.batchSize, maxPlaceholders/max(sh.width(), 1)))
		}
		hi := lo + 1
		for hi < len(ops) && hi-lo < limit && ops[hi].shape == sh {
			hi++
		}
		if n := hi - lo; n < limit {
			// A run shorter than the limit goes out in power-of-two
			// pieces, so a shape has at most a dozen statement texts to
			// prepare rather than one per run length.
			hi = lo + 1<<(bits.Len(uint(n))-1)
		}
		args = args[:0]
		for i := lo; i < hi; i++ {
			args = append(args, ops[i].args...)
		}
		if err := s.exec(ctx, tx, sh.statement(hi-lo), args); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// execIsolated executes each record's ops under a savepoint and rejects
// the records whose data the server refuses.
func (s *sink) execIsolated(ctx context.Context, tx *sql.Tx, ops []op, rejected map[int]error) error {
	for lo := 0; lo < len(ops); {
		hi := lo + 1
		for hi < len(ops) && ops[hi].rec == ops[lo].rec {
			hi++
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT ferry_rec"); err != nil {
			return err
		}
		for i := lo; i < hi; i++ {
			err := s.exec(ctx, tx, ops[i].shape.statement(1), ops[i].args)
			if err == nil {
				continue
			}
			if classify(err) != kit.RecordFault {
				return err
			}
			rejected[ops[i].rec] = err
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT ferry_rec"); err != nil {
				return err
			}
			break
		}
		lo = hi
	}
	return nil
}

func (s *sink) exec(ctx context.Context, tx *sql.Tx, q string, args []any) error {
	st, err := s.stmts.get(ctx, q)
	if err != nil {
		return err
	}
	_, err = tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	return err
}

// rowOps maps each record to a row of insert or upsert.
func (s *sink) rowOps(ctx context.Context, records []api.Record, rejected map[int]error) ([]op, error) {
	ops := make([]op, 0, len(records))
	names := make([]string, len(s.cfg.columns))
	for i, c := range s.cfg.columns {
		names[i] = c.name
	}
	kind := opInsert
	if s.cfg.mode == modeUpsert {
		kind = opUpsert
	}
	var raw []json.RawMessage
	for i := range records {
		ev := &records[i].Event
		table, err := s.tableName(ev, "")
		if err != nil {
			rejected[i] = err
			continue
		}
		m, err := s.meta.get(ctx, table)
		if err != nil {
			return nil, engineError("read table metadata", err)
		}
		if m == nil {
			rejected[i] = fmt.Errorf("%w: %s.%s", errNoTable, s.cfg.database, table)
			continue
		}
		var args []any
		if args, raw, err = s.renderArgs(ev, s.cfg.columns, m, raw); err != nil {
			rejected[i] = fmt.Errorf("columns: %w", err)
			continue
		}
		sh := s.shapes.intern(sigOf(kind, table, names), func() *shape {
			return &shape{kind: kind, table: table, cols: names, update: updateCols(m, names)}
		})
		ops = append(ops, op{rec: i, shape: sh, args: args})
	}
	groupByTable(ops)
	return ops, nil
}

// updateCols returns the columns an upsert sets on a duplicate key: every
// given column but the primary key's (or the first column, a no-op, when
// only key columns are given).
func updateCols(m *tableMeta, cols []string) []string {
	var out []string
	for _, c := range cols {
		i, ok := m.lookup(c)
		isKey := false
		for _, k := range m.pk {
			if ok && k == i {
				isKey = true
			}
		}
		if !isKey {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		out = cols[:1]
	}
	return out
}

// groupByTable orders ops by table, keeping their order within a table
// (a key's changes stay in order), so runs of one shape grow longer.
func groupByTable(ops []op) {
	if len(ops) < 2 {
		return
	}
	first := map[string]int{}
	for _, o := range ops {
		if _, ok := first[o.shape.table]; !ok {
			first[o.shape.table] = len(first)
		}
	}
	if len(first) < 2 {
		return
	}
	buckets := make([][]op, len(first))
	for _, o := range ops {
		b := first[o.shape.table]
		buckets[b] = append(buckets[b], o)
	}
	ops = ops[:0]
	for _, b := range buckets {
		ops = append(ops, b...)
	}
}

// execOps maps each record to one execution of the custom SQL.
func (s *sink) execOps(records []api.Record, rejected map[int]error) ([]op, error) {
	ops := make([]op, 0, len(records))
	sh := s.shapes.intern(sigOf(opExec, "", []string{s.cfg.sql}), func() *shape {
		return &shape{kind: opExec, sql: s.cfg.sql}
	})
	var raw []json.RawMessage
	var err error
	for i := range records {
		// Placeholders may repeat a name; each gets its own argument.
		var args []any
		if args, raw, err = s.renderArgs(&records[i].Event, s.cfg.params, nil, raw); err != nil {
			rejected[i] = fmt.Errorf("sql.params: %w", err)
			continue
		}
		ops = append(ops, op{rec: i, shape: sh, args: args})
	}
	return ops, nil
}

// renderArgs renders the values of cols for ev, converted for the columns
// of m when known (m is nil in sql mode). raw is scratch space, returned
// for reuse.
func (s *sink) renderArgs(ev *api.Event, cols []column, m *tableMeta, raw []json.RawMessage) ([]any, []json.RawMessage, error) {
	raw, err := s.renderPaths(ev, raw)
	if err != nil {
		return nil, raw, err
	}
	args := make([]any, len(cols))
	p := 0
	for j, c := range cols {
		if c.path == "" {
			if args[j], err = s.renderText(c, ev); err != nil {
				return nil, raw, err
			}
			continue
		}
		k := kindOther
		if m != nil {
			if ci, ok := m.lookup(c.name); ok {
				k = m.cols[ci].kind
			}
		}
		if args[j], err = jsonArg(raw[p], k); err != nil {
			return nil, raw, fmt.Errorf("%s: %w", c.name, err)
		}
		p++
	}
	return args, raw, nil
}

// renderPaths renders the JSONPath values of ev, one JSON value each.
func (s *sink) renderPaths(ev *api.Event, raw []json.RawMessage) ([]json.RawMessage, error) {
	if s.paths == nil {
		return raw[:0], nil
	}
	var err error
	s.buf, err = s.paths.Render(ev, s.buf[:0])
	if err != nil {
		return raw, err
	}
	raw = raw[:0]
	if err := json.Unmarshal(s.buf, &raw); err != nil {
		return raw, fmt.Errorf("%w: %v", errBadValue, err)
	}
	return raw, nil
}

// renderText renders a constant or template value as a string argument.
func (s *sink) renderText(c column, ev *api.Event) (any, error) {
	out, err := c.t.Render(ev, nil)
	if err != nil {
		return nil, err
	}
	return string(out), nil
}

// tableName renders the table for ev; fallback is used when the table
// parameter is unset (cdc: the source table).
func (s *sink) tableName(ev *api.Event, fallback string) (string, error) {
	name := fallback
	if s.cfg.table.IsSet() {
		if c, ok := s.cfg.table.Constant(); ok {
			name = c
		} else {
			out, err := s.cfg.table.Render(ev, nil)
			if err != nil {
				return "", err
			}
			name = string(out)
		}
	}
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("table %q: %w", name, err)
	}
	return name, nil
}
