// Package rds is the rds sink: it writes events to MySQL or RDS for MySQL
// (and MariaDB) through database/sql and github.com/go-sql-driver/mysql,
// as mapped inserts or upserts, as a custom statement per event, or by
// applying Debezium change events by primary key.
//
// # Modes
//
//	insert  INSERT INTO table (columns…) VALUES (…),(…)…
//	upsert  the same … ON DUPLICATE KEY UPDATE every given non-key column
//	sql     the custom statement once per event
//	cdc     Debezium envelopes ({"before","after","op","source"}, as the
//	        mysql-cdc source writes them) become upserts (op c, r, u) and
//	        deletes by primary key (op d)
//
// columns (and sql.params) map a column (a placeholder) to a value taken
// from the event: a string starting with $ is a JSONPath, any other string
// a constant, and an object {"form","value","template"} is any of
// EventBridge's forms (package transform/template). JSONPath values keep
// their JSON type: null binds NULL, strings their text, booleans 1 and 0,
// integers as integers, other numbers as their exact text, objects and
// arrays as JSON text. Template and constant values bind as text. The
// table is a template parameter too (table, or table.form/value/template).
//
// sql mode's statement names placeholders :name; each is bound from
// sql.params as a server-side prepared statement parameter, never spliced
// into the SQL text. Colons in quotes, backquotes and comments and the :=
// operator are not placeholders; a ? is refused.
//
// # Transactions and errors
//
// Each Write runs in one transaction: consecutive rows of one table and
// one column set become one multi-row statement of at most batch.size rows
// (and 65,535 parameters). Rows are grouped by table, keeping their order
// within a table, so a key's changes apply in the order they happened. When
// the server refuses a statement because of data (duplicate key, foreign
// key, NOT NULL, CHECK, bad or too long value, unknown table or column), the
// transaction is rolled back and run again row by row, each record under a
// savepoint, and only the records the server refuses are returned in
// *api.RecordErrors, so errors.tolerance routes them. Deadlocks, lock wait
// timeouts, lost connections and a read-only server are api.Retryable and
// the engine retries the batch; access and syntax errors are api.Fatal.
// Statements are server-side prepared and cached (256 at most); a run
// shorter than batch.size is sent in power-of-two pieces so each shape
// needs only a few statement texts.
// The session time zone is UTC.
//
// # cdc mode
//
// The target table is the event's source table in database unless the
// table parameter says otherwise; its primary key comes from
// information_schema. An update that changes the key deletes the old row
// first. Deletes use the before image (or the record key, a JSON object of
// key columns). Replays are harmless: applying a batch twice leaves the
// same rows. With parallelism above 1 the operations of a write are
// partitioned by table and key hash into that many transactions run at
// once; a partition that fails makes the whole write fail and be retried,
// which the idempotent operations make safe. DDL and heartbeat events are
// skipped; values are converted for the target column's type: base64
// strings into BINARY and BLOB columns (how the source writes them), RFC
// 3339 times into DATETIME and TIMESTAMP as UTC.
//
// Schema evolution (schema.evolution=basic): a column an after image
// carries that the target lacks is added, before the transaction (DDL
// commits implicitly), with ALTER TABLE … ADD COLUMN … NULL and a type
// inferred from the first non-null value: BIGINT (BIGINT UNSIGNED,
// DECIMAL(65,0) for larger integers), DOUBLE, BOOLEAN, JSON for objects and
// arrays, LONGTEXT for strings and nulls. Columns are never dropped,
// renamed or retyped, and missing tables are not created. An ALTER the
// server refuses rejects the records that needed it (RecordErrors).
//
// # Exactly once
//
// With exactly.once the position of each partition's last written record
// is upserted into exactly.once.table (connector, partition, position,
// updated) in the same transaction as the rows; a partition's position
// never passes a rejected record. The sink's Positions method returns the
// stored positions: the sink is an api.PositionStore, so the engine opens
// it first and starts the source from these positions wherever it has
// them, skipping exactly what was committed (see docs/rds-sink.md). It is
// also an api.PositionSaver: the positions the engine commits for records
// that never reached it (filtered, dead-lettered) are upserted too, so the
// table does not fall behind the offset store.
//
// # Configuration
//
//	field                          type       default        description
//	hostname                       string     required       MySQL or RDS for MySQL host name.
//	port                           int        3306           Server port.
//	user                           string     required       User name.
//	password                       string     -              Password. Secret.
//	database                       string     required       Target database (schema).
//	tls                            string     false          TLS to the server: false, true (verified), skip-verify or preferred (TLS when the server offers it). One of: false, true, skip-verify, preferred.
//	mode                           string     insert         insert or upsert rows mapped by columns; run the custom sql per event; or apply Debezium change events (cdc). One of: insert, upsert, sql, cdc.
//	columns                        json       -              insert and upsert: JSON object of column to value: "$.data.x" (a JSONPath), any other string (a constant), or {"form":"JSONPATH|CONSTANT|TEMPLATE|ORIGINAL","value":…,"template":…}.
//	sql                            string     -              sql mode: one statement with :name placeholders, bound from the event as parameters (never spliced into the text).
//	sql.params                     json       -              sql mode: JSON object of placeholder name to value, written as in columns.
//	exactly.once                   boolean    false          Store each partition's position in exactly.once.table in the same transaction as the rows.
//	exactly.once.table             string     ferry_offsets  Table of stored positions (created when missing) for exactly.once.
//	schema.evolution               string     basic          cdc mode: basic adds columns the change events carry and the target lacks; none rejects such records. One of: none, basic.
//	parallelism                    int        1              cdc: transactions applied at once per write, records partitioned by primary key so each key keeps its order. Must be 1 with exactly.once.
//	pool.size                      int        4              Most open connections.
//	batch.size                     int        500            Most rows in one INSERT or DELETE statement.
//	connect.timeout                duration   10s            Dial timeout.
//	table[.form|.value|.template]  parameter  -              Target table in database: required for insert and upsert; in cdc mode the source table's name when unset. A constant; to take it from the event use table.form instead.
package rds
