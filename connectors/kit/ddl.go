package kit

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry/api"
)

// DDL is what a change-data-capture source understands of a schema
// statement (one the binlog logs as a query event, or a DTS DDL record).
type DDL struct {
	Kind     string // "CREATE TABLE", "ALTER TABLE", …; the first words when not parsed
	DB       string // the database affected (the statement's or the session's)
	Table    string // the table affected, when any
	NewTable string // RENAME's target
	Parsed   bool
	Admin    bool // grants, users, FLUSH and the like: no schema change
}

// name is one identifier, back-quoted or bare.
const ident = "(?:`(?:[^`]|``)+`|[\\p{L}\\p{N}_$]+)"

var (
	leadingComment = regexp.MustCompile(`^(?:\s+|/\*.*?\*/|#[^\n]*\n|--\s[^\n]*\n)+`)
	objectDDL      = regexp.MustCompile(`(?is)^(CREATE|ALTER|DROP|TRUNCATE)\s+` +
		`(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?(?:SQL\s+SECURITY\s+\w+\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?` +
		`(?:TEMPORARY\s+|ONLINE\s+|OFFLINE\s+|IGNORE\s+)*` +
		`(TABLE|DATABASE|SCHEMA|VIEW|TRIGGER|PROCEDURE|FUNCTION|EVENT|SEQUENCE)\s+` +
		`(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(` + ident + `(?:\s*\.\s*` + ident + `)?)`)
	indexDDL = regexp.MustCompile(`(?is)^(CREATE|DROP)\s+(?:OR\s+REPLACE\s+)?(?:ONLINE\s+|OFFLINE\s+)?` +
		`(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?` + ident +
		`(?:\s+USING\s+\w+)?\s+ON\s+(` + ident + `(?:\s*\.\s*` + ident + `)?)`)
	renameDDL = regexp.MustCompile(`(?is)^RENAME\s+TABLES?\s+(` + ident + `(?:\s*\.\s*` + ident + `)?)\s+TO\s+(` +
		ident + `(?:\s*\.\s*` + ident + `)?)`)
	adminWords = map[string]bool{
		"GRANT": true, "REVOKE": true, "FLUSH": true, "ANALYZE": true, "OPTIMIZE": true,
		"REPAIR": true, "CHECK": true, "SET": true, "INSTALL": true, "UNINSTALL": true,
		"RESET": true, "PURGE": true, "KILL": true, "SHUTDOWN": true,
	}
	userDDL = regexp.MustCompile(`(?is)^(CREATE|ALTER|DROP|RENAME)\s+(?:OR\s+REPLACE\s+)?(USER|ROLE|SERVER)\b`)
)

// ParseDDL classifies a statement. schema is the session's default
// database, used for unqualified names.
func ParseDDL(q, schema string) DDL {
	q = leadingComment.ReplaceAllString(q, "")
	q = strings.TrimRight(q, "; \t\r\n")
	d := DDL{DB: schema}
	if w := strings.ToUpper(FirstWord(q)); adminWords[w] || userDDL.MatchString(q) {
		d.Kind, d.Admin = w, true
		return d
	}
	if m := objectDDL.FindStringSubmatch(q); m != nil {
		d.Kind = strings.ToUpper(m[1]) + " " + strings.ToUpper(m[2])
		d.Parsed = true
		obj := strings.ToUpper(m[2])
		if obj == "DATABASE" || obj == "SCHEMA" {
			d.DB = unquote(m[3])
			return d
		}
		d.DB, d.Table = qualified(m[3], schema)
		if obj != "TABLE" && obj != "VIEW" && obj != "SEQUENCE" {
			d.Table = "" // routines, triggers and events hold no rows
		}
		return d
	}
	if m := indexDDL.FindStringSubmatch(q); m != nil {
		d.Kind = strings.ToUpper(m[1]) + " INDEX"
		d.Parsed = true
		d.DB, d.Table = qualified(m[2], schema)
		return d
	}
	if m := renameDDL.FindStringSubmatch(q); m != nil {
		d.Kind = "RENAME TABLE"
		d.Parsed = true
		d.DB, d.Table = qualified(m[1], schema)
		_, d.NewTable = qualified(m[2], schema)
		return d
	}
	// Unknown: surfaced with its first words so it is never silently lost.
	f := strings.Fields(q)
	d.Kind = strings.ToUpper(strings.Join(f[:min(2, len(f))], " "))
	return d
}

// qualified splits "db.table" or "table" (identifiers possibly quoted).
func qualified(name, schema string) (db, table string) {
	parts := splitIdent(name)
	if len(parts) == 2 {
		return parts[0], parts[1]
	}
	return schema, parts[0]
}

func splitIdent(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '`' && inQuote && i+1 < len(s) && s[i+1] == '`':
			cur.WriteByte('`')
			i++
		case c == '`':
			inQuote = !inQuote
		case c == '.' && !inQuote:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		case (c == ' ' || c == '\t' || c == '\n') && !inQuote:
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

func unquote(s string) string { return splitIdent(s)[0] }

// FirstWord returns q up to its first space, semicolon or parenthesis.
func FirstWord(q string) string {
	for i, c := range q {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';' || c == '(' {
			return q[:i]
		}
	}
	return q
}

// BeginDDLEvent starts the data of a DDL change event: the statement and
// what ParseDDL read of it. The caller appends `,"source":` and its source
// block, then EndDDLEvent.
func BeginDDLEvent(b []byte, stmt string, d DDL) []byte {
	b = append(b, `{"ddl":`...)
	b = api.AppendJSONString(b, stmt)
	b = append(b, `,"databaseName":`...)
	b = api.AppendJSONString(b, d.DB)
	b = append(b, `,"table":`...)
	b = api.AppendJSONString(b, d.Table)
	if d.NewTable != "" {
		b = append(b, `,"newTable":`...)
		b = api.AppendJSONString(b, d.NewTable)
	}
	b = append(b, `,"kind":`...)
	b = api.AppendJSONString(b, d.Kind)
	if d.Parsed {
		return append(b, `,"parsed":true`...)
	}
	return append(b, `,"parsed":false`...)
}

// EndDDLEvent appends ts_ms (when the event was made, Unix milliseconds)
// and closes a DDL event's data.
func EndDDLEvent(b []byte, tsMs int64) []byte {
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, tsMs, 10)
	return append(b, '}')
}
