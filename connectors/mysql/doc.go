// Package mysql is the mysql-cdc source: change data capture from MySQL
// and MariaDB binary logs on github.com/go-mysql-org/go-mysql, emitting
// every row change as a CloudEvent whose data is Debezium's envelope.
//
// # Lifecycle
//
// Open connects, runs the start-up checks (binary log on, binlog_format
// ROW, binlog_row_image FULL, binlog_row_metadata FULL, replication grants,
// stored position not purged; each failure is api.Fatal with the remedy)
// and then either starts a snapshot or follows the binlog:
//
//   - snapshot.mode=initial (default) / when_needed: a consistent snapshot
//     of every captured table (op "r"), then the binlog from the exact
//     position the snapshot saw. Streaming starts only after the engine
//     acknowledged the last snapshot record (Ack), so a crash never leaves
//     a committed streaming position with unread snapshot rows behind it.
//   - never: the binlog from the server's current position.
//   - initial_only: the snapshot, then api.ErrEndOfInput.
//   - when_needed also snapshots again when the stored binlog file was
//     purged; the other modes fail with ErrPurged naming that remedy.
//
// The snapshot reads up to snapshot.max.threads tables at once, each
// reader on its own connection in a REPEATABLE READ transaction opened
// WITH CONSISTENT SNAPSHOT, all of them at one instant. On MariaDB the
// instant and its binlog position come lock-free from the
// binlog_snapshot_file/position status variables: the readers' openings
// are retried until they all report the same position, and only when
// writes keep them apart does it take a brief FLUSH TABLES WITH READ LOCK
// (RELOAD; without it the snapshot drops to one reader). On MySQL the
// readers open under that lock and SHOW MASTER STATUS gives the position.
// With snapshot.locking.mode=none, or when the server refuses the lock or
// does not grant it within snapshot.lock.timeout.ms, no lock is taken:
// MariaDB stays exact (one reader if they cannot meet), and MySQL, which
// then needs GTIDs, reads gtid_executed before the readers open and streams
// from it, repeating only what committed while they opened.
// Tables are read in name order, each in chunks ordered by primary key
// (snapshot.chunk.size), in rounds over the first snapshot.max.threads
// unfinished tables. Tables without a primary key restart from their
// first row after a crash.
//
// # Positions and partition
//
// The partition is "<host>:<port>" (one per server; the source plans
// exactly one task). A position is JSON text:
//
//	{"file":"mysql-bin.000003","pos":1234,"gtids":"0-1-41","row":2}
//
// file:pos is where the record's transaction starts, gtids the GTID set
// executed before it (present when GTID positions are in use), row the
// record's 1-based index among the transaction's rows. A restart re-reads
// the transaction (by GTID when available, else file:pos) and skips its
// first row rows: the next record is exactly the one after the commit,
// even inside a multi-row event. Snapshot records add
// "snapshot":{"table":"db.t","key":["42"],"rows":7}: the table and key the
// record was read at and the table's rows so far, "done":true on a
// table's last row, "open" the other tables in progress with their last
// keys, and "through" the last table started when no other field names
// it. Every table up to the last one started that is not named is
// complete. A resumed snapshot first finishes the chunk and round the
// committed record was in, so with unchanged settings the records after a
// commit replay in their original order with the same ids and positions.
//
// The snapshot's records share the server's one partition: the engine's
// in-order ack watermark then commits a prefix of the interleaved tables,
// and each record's position names every table's progress as of that
// record, so whatever prefix is committed, a restarted
// snapshot skips the completed tables and continues every table in
// progress after its own last committed key. One partition per table
// would leave stale partitions behind after the hand-over and a new
// snapshot (when_needed) could not tell them from its own.
//
// # Events
//
//	id       <file>:<pos>:<row>                 streaming (deterministic)
//	         r:<file>:<pos>:<db.table>:<key>    snapshot (deterministic)
//	source   /ferry/mysql-cdc/<connector>
//	type     ferry.mysql.insert|update|delete|read|ddl|heartbeat|transaction
//	subject  <db>.<table>
//	time     the binlog event's timestamp (snapshot: its start)
//	data     {"before":…,"after":…,"source":{…},"op":"c|u|d|r","ts_ms":…}
//	key      the primary key as a JSON object, e.g. {"id":42}
//
// Row values keep their meaning: integers (unsigned included) and floats
// as JSON numbers, DECIMAL as exact strings, DATETIME as
// "2006-01-02T15:04:05.000000" (no zone: MySQL stores none), TIMESTAMP in
// UTC with a Z, DATE and TIME as strings, YEAR as a number, BIT as an
// unsigned number, ENUM and SET by name, JSON inline, binary strings and
// BLOBs as base64.
//
// # Schema changes
//
// Rows are decoded with the column names, signedness, charsets and
// ENUM/SET members the row's own table-map event carries
// (binlog_row_metadata=FULL), i.e. the structure in force when the row was
// written; no schema history is needed and none is stored. The one fact the
// binlog lacks, MariaDB's JSON alias for LONGTEXT, is read from
// information_schema (the live schema) and re-read after a DDL on the
// table. DDL statements become ferry.mysql.ddl events; one the classifier
// cannot read is emitted with "parsed":false, never skipped, and reported
// with api.TaskConfig.Warn (logged and shown in the task's status).
//
// With provide.transaction.metadata, BEGIN and END events (ids
// <file>:<pos>:begin|end) frame each transaction that touches a captured
// table; BEGIN's position carries "begun":true so a restart does not
// repeat it.
//
// # Memory and failures
//
// go-mysql decodes at most max.queue.size events ahead (not its default
// 10,240); a Read returns after batch.size records or batch.max.bytes of
// data, resuming a large rows event where it stopped.
//
// A Read that fails (a dropped binlog connection, a snapshot query cut by
// a cancelled ctx) tears the reader down; the engine's retried Read
// restarts it after the last record returned, row-exact. go-mysql's own
// reconnect is disabled because it may resume mid-transaction.
//
// # Concurrency
//
// Open, Read and Close run on the engine's goroutine; Ack may run
// concurrently with Read and only records the acknowledged position under
// a mutex. The only goroutine the source owns past a call is go-mysql's
// syncer, stopped by Close (and by a failed Read); a snapshot round's
// readers run on goroutines that end before the Read that started them
// returns.
package mysql
