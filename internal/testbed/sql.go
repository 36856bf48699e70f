package testbed

import (
	"database/sql"
	"testing"
)

// QueryRows runs q on db and returns every row as strings, NULL as
// "NULL", failing the test on any error: the form tests compare tables in.
func QueryRows(tb testing.TB, db *sql.DB, q string, args ...any) [][]string {
	tb.Helper()
	rs, err := db.Query(q, args...)
	if err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	var out [][]string
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "NULL"
			if v.Valid {
				row[i] = v.String
			}
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return out
}
