package rds

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// envelope is Debezium's change event value, as the mysql-cdc source
// writes it. Payload holds the same when it comes wrapped by Kafka
// Connect's JSON converter ({"schema":…,"payload":…}).
type envelope struct {
	Before  json.RawMessage `json:"before"`
	After   json.RawMessage `json:"after"`
	Op      string          `json:"op"`
	DDL     *string         `json:"ddl"`
	Payload *envelope       `json:"payload"`
	Source  struct {
		DB    string `json:"db"`
		Table string `json:"table"`
	} `json:"source"`
}

// change is one decoded change event of a batch.
type change struct {
	rec    int
	table  string
	meta   *tableMeta
	op     byte
	before map[string]json.RawMessage
	after  map[string]json.RawMessage
}

// cdcOps decodes change events, evolves target tables, and maps each change
// to upserts and deletes by primary key.
func (s *sink) cdcOps(ctx context.Context, records []api.Record, rejected map[int]error) ([]op, error) {
	changes := make([]change, 0, len(records))
	missing := map[string][]newColumn{} // table → columns to add
	var tables []string
	for i := range records {
		ch, skip, err := s.decodeChange(ctx, &records[i], i)
		if err != nil {
			if !isDataErr(err) {
				return nil, err
			}
			rejected[i] = err
			continue
		}
		if skip {
			continue
		}
		if ch.op != 'd' {
			for name, v := range ch.after {
				if _, ok := ch.meta.lookup(name); ok {
					continue
				}
				if !s.cfg.evolve {
					rejected[i] = fmt.Errorf("%w: %s.%s", errUnknownColumn, ch.table, name)
					break
				}
				if _, ok := missing[ch.table]; !ok {
					tables = append(tables, ch.table)
				}
				missing[ch.table] = addNewColumn(missing[ch.table], name, v)
			}
			if _, bad := rejected[i]; bad {
				continue
			}
		}
		changes = append(changes, ch)
	}
	failed := map[string]error{}
	for _, t := range tables {
		if err := s.addColumns(ctx, t, missing[t]); err != nil {
			if !isDataErr(err) && classify(err) == kit.Transient && !isDDLRefused(err) {
				return nil, engineError("schema evolution", err)
			}
			failed[t] = err
		}
	}
	ops := make([]op, 0, len(changes))
	for _, ch := range changes {
		if err, ok := failed[ch.table]; ok && ch.op != 'd' {
			rejected[ch.rec] = fmt.Errorf("schema evolution of %s: %w", ch.table, err)
			continue
		}
		if len(tables) > 0 {
			m, err := s.meta.get(ctx, ch.table)
			if err != nil {
				return nil, engineError("read table metadata", err)
			}
			ch.meta = m
		}
		var err error
		if ops, err = s.changeOps(ops, &ch, &records[ch.rec]); err != nil {
			rejected[ch.rec] = err
		}
	}
	groupByTable(ops)
	return ops, nil
}

// dataErr marks an error caused by a record's content.
type dataErr struct{ error }

func (e dataErr) Unwrap() error { return e.error }

func isDataErr(err error) bool {
	_, ok := err.(dataErr)
	return ok
}

// decodeChange decodes records[i]. skip is true for events that carry no
// row change (DDL, heartbeats, tombstones).
func (s *sink) decodeChange(ctx context.Context, r *api.Record, i int) (change, bool, error) {
	ch := change{rec: i}
	if len(r.Event.Data) == 0 || strings.HasSuffix(r.Event.Type, ".heartbeat") {
		return ch, true, nil
	}
	var env envelope
	if err := json.Unmarshal(r.Event.Data, &env); err != nil {
		return ch, false, dataErr{fmt.Errorf("%w: %v", errNotChange, err)}
	}
	if env.Op == "" && env.Payload != nil {
		env = *env.Payload
	}
	if env.Op == "" {
		if env.DDL != nil || strings.HasSuffix(r.Event.Type, ".ddl") {
			// Columns are added from the rows themselves; other DDL is
			// left to the operator (see the package documentation).
			s.log.Debug("skipping DDL event", "event_id", r.Event.ID)
			return ch, true, nil
		}
		return ch, false, dataErr{errNotChange}
	}
	if len(env.Op) != 1 || !strings.Contains("cudr", env.Op) {
		return ch, false, dataErr{fmt.Errorf("%w: unknown op %q", errNotChange, env.Op)}
	}
	ch.op = env.Op[0]
	table, err := s.tableName(&r.Event, env.Source.Table)
	if err != nil {
		return ch, false, dataErr{err}
	}
	ch.table = table
	if ch.before, err = image(env.Before); err != nil {
		return ch, false, dataErr{fmt.Errorf("before: %w", err)}
	}
	if ch.after, err = image(env.After); err != nil {
		return ch, false, dataErr{fmt.Errorf("after: %w", err)}
	}
	if ch.op != 'd' && ch.after == nil {
		return ch, false, dataErr{fmt.Errorf("%w: op %c without an after image", errNotChange, ch.op)}
	}
	m, err := s.meta.get(ctx, table)
	if err != nil {
		return ch, false, engineError("read table metadata", err)
	}
	if m == nil {
		return ch, false, dataErr{fmt.Errorf("%w: %s.%s", errNoTable, s.cfg.database, table)}
	}
	ch.meta = m
	return ch, false, nil
}

func image(raw json.RawMessage) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// changeOps appends the operations applying ch: an upsert of the after
// image for c, r and u; a delete by key for d; and for a u that changed
// the primary key, a delete of the old key first.
func (s *sink) changeOps(ops []op, ch *change, r *api.Record) ([]op, error) {
	m := ch.meta
	if len(m.pk) == 0 {
		return ops, fmt.Errorf("%w: %s has no primary key", errNoKey, ch.table)
	}
	if ch.op == 'd' {
		img := ch.before
		if img == nil {
			img = keyImage(r.Key)
		}
		o, err := s.deleteOp(ch, img)
		if err != nil {
			return ops, err
		}
		return append(ops, o), nil
	}
	vals := make([]json.RawMessage, len(m.cols))
	for name, v := range ch.after {
		if i, ok := m.lookup(name); ok {
			vals[i] = v
		}
	}
	for _, k := range m.pk {
		if vals[k] == nil {
			return ops, fmt.Errorf("%w: after image lacks key column %s", errNoKey, m.cols[k].name)
		}
	}
	if ch.op == 'u' && ch.before != nil && keyChanged(m, ch.before, vals) {
		o, err := s.deleteOp(ch, ch.before)
		if err != nil {
			return ops, err
		}
		ops = append(ops, o)
	}
	names := make([]string, 0, len(vals))
	args := make([]any, 0, len(vals))
	for i, v := range vals {
		if v == nil {
			continue
		}
		a, err := jsonArg(v, m.cols[i].kind)
		if err != nil {
			return ops, fmt.Errorf("column %s: %w", m.cols[i].name, err)
		}
		names = append(names, m.cols[i].name)
		args = append(args, a)
	}
	sh := s.shapes.intern(sigOf(opUpsert, ch.table, names), func() *shape {
		return &shape{kind: opUpsert, table: ch.table, cols: names, update: updateCols(m, names)}
	})
	return append(ops, op{rec: ch.rec, shape: sh, args: args, key: s.keyHash(m, vals)}), nil
}

func (s *sink) deleteOp(ch *change, img map[string]json.RawMessage) (op, error) {
	m := ch.meta
	vals := make([]json.RawMessage, len(m.cols))
	for name, v := range img {
		if i, ok := m.lookup(name); ok {
			vals[i] = v
		}
	}
	names := make([]string, len(m.pk))
	args := make([]any, len(m.pk))
	for j, k := range m.pk {
		if vals[k] == nil {
			return op{}, fmt.Errorf("%w: delete lacks key column %s", errNoKey, m.cols[k].name)
		}
		a, err := jsonArg(vals[k], m.cols[k].kind)
		if err != nil {
			return op{}, fmt.Errorf("column %s: %w", m.cols[k].name, err)
		}
		names[j], args[j] = m.cols[k].name, a
	}
	sh := s.shapes.intern(sigOf(opDelete, ch.table, names), func() *shape {
		return &shape{kind: opDelete, table: ch.table, cols: names}
	})
	return op{rec: ch.rec, shape: sh, args: args, key: s.keyHash(m, vals)}, nil
}

// keyImage reads a record key written as a JSON object of key columns.
func keyImage(key []byte) map[string]json.RawMessage {
	m, _ := image(key)
	return m
}

func keyChanged(m *tableMeta, before map[string]json.RawMessage, after []json.RawMessage) bool {
	for _, k := range m.pk {
		var b json.RawMessage
		for name, v := range before {
			if i, ok := m.lookup(name); ok && i == k {
				b = v
				break
			}
		}
		if b == nil || !bytes.Equal(bytes.TrimSpace(b), bytes.TrimSpace(after[k])) {
			return true
		}
	}
	return false
}

// keyHash hashes the table and key values, to partition by key.
func (s *sink) keyHash(m *tableMeta, vals []json.RawMessage) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(m.name)
	for _, k := range m.pk {
		h.WriteByte(0)
		h.Write(bytes.TrimSpace(vals[k]))
	}
	return h.Sum64()
}

// newColumn is a column schema evolution adds.
type newColumn struct {
	name, typ string
}

// addNewColumn records name with the type its value suggests; a later
// non-null value decides when the first was null.
func addNewColumn(cols []newColumn, name string, v json.RawMessage) []newColumn {
	typ := inferType(v)
	for i := range cols {
		if cols[i].name == name {
			if cols[i].typ == "LONGTEXT" && typ != "LONGTEXT" {
				cols[i].typ = typ
			}
			return cols
		}
	}
	return append(cols, newColumn{name: name, typ: typ})
}

// inferType picks a column type for a JSON value: BIGINT for integers
// (DECIMAL(65,0) beyond 64 bits), DOUBLE for other numbers, BOOLEAN, JSON
// for objects and arrays, and LONGTEXT for strings and null, which holds
// any text the source writes (dates, decimals, base64) without loss.
func inferType(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "LONGTEXT"
	}
	switch v[0] {
	case '"', 'n':
		return "LONGTEXT"
	case 't', 'f':
		return "BOOLEAN"
	case '{', '[':
		return "JSON"
	}
	s := string(v)
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return "BIGINT"
	}
	if _, err := strconv.ParseUint(s, 10, 64); err == nil {
		return "BIGINT UNSIGNED"
	}
	if !strings.ContainsAny(s, ".eE") {
		return "DECIMAL(65,0)"
	}
	return "DOUBLE"
}

// addColumns adds cols to table in one ALTER TABLE (DDL commits implicitly,
// so this runs before the batch's transaction) and reloads its metadata.
func (s *sink) addColumns(ctx context.Context, table string, cols []newColumn) error {
	// The cached columns may be stale: an operator or another task may have
	// added some since. Re-read the table and add only what is missing, so
	// the ALTER never fails with a duplicate column.
	s.meta.forget(table)
	m, err := s.meta.get(ctx, table)
	if err != nil {
		return err
	}
	cols = slices.DeleteFunc(slices.Clone(cols), func(c newColumn) bool { _, ok := m.lookup(c.name); return ok })
	if len(cols) == 0 {
		return nil
	}
	var q strings.Builder
	q.WriteString("ALTER TABLE " + quoteName(table))
	for i, c := range cols {
		if err := checkName(c.name); err != nil {
			return dataErr{fmt.Errorf("column %q: %w", c.name, err)}
		}
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(" ADD COLUMN " + quoteName(c.name) + " " + c.typ + " NULL")
	}
	_, err = s.db.ExecContext(ctx, q.String())
	s.meta.forget(table)
	if err != nil {
		var names []string
		for _, c := range cols {
			names = append(names, c.name)
		}
		s.log.Warn("schema evolution failed", "table", table, "columns", names, "err", err)
		return fmt.Errorf("%s: %w", q.String(), err)
	}
	s.log.Info("schema evolution: added columns", "table", table, "ddl", q.String())
	return nil
}

// isDDLRefused reports a DDL failure the server will repeat: a refused
// statement rather than a lost connection.
func isDDLRefused(err error) bool {
	c := classify(err)
	return c == kit.Fatal || c == kit.RecordFault || errorsAsMySQL(err)
}
