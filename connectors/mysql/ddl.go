package mysql

import (
	"regexp"
	"strings"
)

// ddl is what the connector understands of a statement logged as a query
// event outside a row-based transaction.
type ddl struct {
	kind     string // "CREATE TABLE", "ALTER TABLE", …; the first words when not parsed
	db       string // the database affected (the statement's or the session's)
	table    string // the table affected, when any
	newTable string // RENAME's target
	parsed   bool
	admin    bool // grants, users, FLUSH and the like: no schema change
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

// parseDDL classifies a query event's statement. schema is the session's
// default database, used for unqualified names.
func parseDDL(q, schema string) ddl {
	q = leadingComment.ReplaceAllString(q, "")
	q = strings.TrimRight(q, "; \t\r\n")
	d := ddl{db: schema}
	if w := strings.ToUpper(firstWord(q)); adminWords[w] || userDDL.MatchString(q) {
		d.kind, d.admin = w, true
		return d
	}
	if m := objectDDL.FindStringSubmatch(q); m != nil {
		d.kind = strings.ToUpper(m[1]) + " " + strings.ToUpper(m[2])
		d.parsed = true
		obj := strings.ToUpper(m[2])
		if obj == "DATABASE" || obj == "SCHEMA" {
			d.db = unquote(m[3])
			return d
		}
		d.db, d.table = qualified(m[3], schema)
		if obj != "TABLE" && obj != "VIEW" && obj != "SEQUENCE" {
			d.table = "" // routines, triggers and events hold no rows
		}
		return d
	}
	if m := indexDDL.FindStringSubmatch(q); m != nil {
		d.kind = strings.ToUpper(m[1]) + " INDEX"
		d.parsed = true
		d.db, d.table = qualified(m[2], schema)
		return d
	}
	if m := renameDDL.FindStringSubmatch(q); m != nil {
		d.kind = "RENAME TABLE"
		d.parsed = true
		d.db, d.table = qualified(m[1], schema)
		_, d.newTable = qualified(m[2], schema)
		return d
	}
	// Unknown: surfaced with its first words so it is never silently lost.
	f := strings.Fields(q)
	d.kind = strings.ToUpper(strings.Join(f[:min(2, len(f))], " "))
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
