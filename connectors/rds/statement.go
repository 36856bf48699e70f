package rds

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxPlaceholders is the protocol's limit of parameters per prepared
// statement.
const maxPlaceholders = 65535

type opKind uint8

const (
	opInsert opKind = iota
	opUpsert
	opDelete
	opExec // sql mode: the custom statement
)

// shape is the form of a statement a run of operations shares: consecutive
// operations with one shape become one multi-row statement.
type shape struct {
	kind   opKind
	table  string
	cols   []string // insert/upsert: columns given; delete: key columns
	update []string // upsert: columns set on a duplicate key
	sql    string   // exec
}

// width is the number of arguments one row binds.
func (s *shape) width() int { return len(s.cols) }

// statement returns the SQL text for n rows of the shape.
func (s *shape) statement(n int) string {
	var b strings.Builder
	switch s.kind {
	case opExec:
		return s.sql
	case opInsert, opUpsert:
		b.WriteString("INSERT INTO ")
		b.WriteString(quoteName(s.table))
		b.WriteString(" (")
		for i, c := range s.cols {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quoteName(c))
		}
		b.WriteString(") VALUES ")
		row := "(" + strings.Repeat("?,", len(s.cols)-1) + "?)"
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(row)
		}
		if s.kind == opUpsert {
			// VALUES(col) works on MySQL (deprecated since 8.0.20, still
			// accepted) and MariaDB (which lacks the row alias form).
			b.WriteString(" ON DUPLICATE KEY UPDATE ")
			for i, c := range s.update {
				if i > 0 {
					b.WriteByte(',')
				}
				q := quoteName(c)
				b.WriteString(q + "=VALUES(" + q + ")")
			}
		}
	case opDelete:
		b.WriteString("DELETE FROM ")
		b.WriteString(quoteName(s.table))
		b.WriteString(" WHERE ")
		if len(s.cols) == 1 {
			b.WriteString(quoteName(s.cols[0]))
			b.WriteString(" IN (")
			b.WriteString(strings.Repeat("?,", n-1))
			b.WriteString("?)")
			break
		}
		var row strings.Builder
		row.WriteByte('(')
		for i, c := range s.cols {
			if i > 0 {
				row.WriteString(" AND ")
			}
			row.WriteString(quoteName(c) + "=?")
		}
		row.WriteByte(')')
		for i := range n {
			if i > 0 {
				b.WriteString(" OR ")
			}
			b.WriteString(row.String())
		}
	}
	return b.String()
}

// quoteName quotes an identifier for MySQL: backquotes, with any backquote
// inside doubled.
func quoteName(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// checkName accepts what MySQL accepts as a quoted table or column name.
func checkName(s string) error {
	if s == "" || len(s) > 64*4 || utf8.RuneCountInString(s) > 64 || !utf8.ValidString(s) ||
		strings.IndexByte(s, 0) >= 0 || strings.HasSuffix(s, " ") {
		return errBadName
	}
	return nil
}

// stmtCache keeps prepared statements by text; database/sql re-prepares
// each on the connections that run it. Safe for concurrent use.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// maxCached bounds the prepared statements a sink holds on the server.
const maxCached = 256

func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st, nil
	}
	if len(c.m) >= maxCached {
		c.closeLocked()
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	c.closeLocked()
	c.mu.Unlock()
}

func (c *stmtCache) closeLocked() {
	for _, st := range c.m {
		st.Close()
	}
	clear(c.m)
}

// shapes interns shapes by signature so runs compare by pointer.
type shapes struct {
	mu sync.Mutex
	m  map[string]*shape
}

func (s *shapes) intern(sig string, mk func() *shape) *shape {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sh, ok := s.m[sig]; ok {
		return sh
	}
	if s.m == nil || len(s.m) > 4096 {
		s.m = map[string]*shape{}
	}
	sh := mk()
	s.m[sig] = sh
	return sh
}

// sigOf builds a shape signature from its parts.
func sigOf(kind opKind, table string, cols []string) string {
	n := len(table) + 2
	for _, c := range cols {
		n += len(c) + 1
	}
	var b strings.Builder
	b.Grow(n + 4)
	b.WriteString(strconv.Itoa(int(kind)))
	b.WriteByte(0)
	b.WriteString(table)
	for _, c := range cols {
		b.WriteByte(0)
		b.WriteString(c)
	}
	return b.String()
}
