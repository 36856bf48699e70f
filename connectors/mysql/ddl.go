package mysql

import "github.com/ferryhq/ferry/connectors/kit"

// ddl is what the connector understands of a statement logged as a query
// event outside a row-based transaction: kit.ParseDDL's reading, which
// the dts source shares.
type ddl struct {
	kind     string // "CREATE TABLE", "ALTER TABLE", …; the first words when not parsed
	db       string // the database affected (the statement's or the session's)
	table    string // the table affected, when any
	newTable string // RENAME's target
	parsed   bool
	admin    bool // grants, users, FLUSH and the like: no schema change
}

// parseDDL classifies a query event's statement. schema is the session's
// default database, used for unqualified names.
func parseDDL(q, schema string) ddl {
	k := kit.ParseDDL(q, schema)
	return ddl{kind: k.Kind, db: k.DB, table: k.Table, newTable: k.NewTable, parsed: k.Parsed, admin: k.Admin}
}

func (d ddl) kit() kit.DDL {
	return kit.DDL{Kind: d.kind, DB: d.db, Table: d.table, NewTable: d.newTable, Parsed: d.parsed, Admin: d.admin}
}
