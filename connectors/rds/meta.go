package rds

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
)

// tableMeta is what the sink knows of a target table.
type tableMeta struct {
	name  string
	cols  []colMeta      // in ordinal order
	index map[string]int // lower-case name → position in cols
	pk    []int          // primary key columns, in key order
}

type colMeta struct {
	name string
	kind colKind
}

func (m *tableMeta) lookup(name string) (int, bool) {
	i, ok := m.index[strings.ToLower(name)]
	return i, ok
}

// metaCache loads table metadata from information_schema on first use and
// forgets it after a failure or schema change. It is safe for concurrent use.
type metaCache struct {
	db       *sql.DB
	database string
	mu       sync.Mutex
	tables   map[string]*tableMeta // nil entry: known not to exist
}

func newMetaCache(db *sql.DB, database string) *metaCache {
	return &metaCache{db: db, database: database, tables: map[string]*tableMeta{}}
}

// get returns the table's metadata, or nil when the table does not exist.
func (c *metaCache) get(ctx context.Context, table string) (*tableMeta, error) {
	c.mu.Lock()
	m, ok := c.tables[table]
	c.mu.Unlock()
	if ok {
		return m, nil
	}
	m, err := c.load(ctx, table)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.tables[table] = m
	c.mu.Unlock()
	return m, nil
}

func (c *metaCache) forget(table string) {
	c.mu.Lock()
	delete(c.tables, table)
	c.mu.Unlock()
}

func (c *metaCache) forgetAll() {
	c.mu.Lock()
	clear(c.tables)
	c.mu.Unlock()
}

func (c *metaCache) load(ctx context.Context, table string) (*tableMeta, error) {
	rows, err := c.db.QueryContext(ctx,
		`SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
		 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, c.database, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	m := &tableMeta{name: table, index: map[string]int{}}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return nil, fmt.Errorf("columns of %s: %w", table, err)
		}
		m.index[strings.ToLower(name)] = len(m.cols)
		m.cols = append(m.cols, colMeta{name: name, kind: kindOf(typ)})
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	if len(m.cols) == 0 {
		return nil, nil
	}
	rows, err = c.db.QueryContext(ctx,
		`SELECT COLUMN_NAME FROM information_schema.STATISTICS
		 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`, c.database, table)
	if err != nil {
		return nil, fmt.Errorf("primary key of %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("primary key of %s: %w", table, err)
		}
		if i, ok := m.lookup(name); ok {
			m.pk = append(m.pk, i)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("primary key of %s: %w", table, err)
	}
	return m, nil
}
