package mysql

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
)

// Snapshot locking modes (Debezium's snapshot.locking.mode names).
const (
	// LockingMinimal lets the snapshot take a brief FLUSH TABLES WITH READ
	// LOCK where it needs one (MySQL always; MariaDB only for several
	// readers on a busy server), and goes without when the server refuses it.
	LockingMinimal = "minimal"
	// LockingNone never takes the global read lock.
	LockingNone = "none"
)

// Snapshot modes (Debezium's names).
const (
	SnapshotInitial     = "initial"
	SnapshotNever       = "never"
	SnapshotWhenNeeded  = "when_needed"
	SnapshotInitialOnly = "initial_only"
)

// spec is the mysql-cdc source's fields (source.<field>), as
// docs/mysql-cdc.md explains them:
//
//	field                         type      default   description
//	database.hostname             string    required  Host name or IP address of the MySQL or MariaDB server.
//	database.port                 int       3306      TCP port of the server.
//	database.user                 string    required  User to connect as; needs SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE and REPLICATION CLIENT (BINLOG MONITOR on MariaDB) on *.*.
//	database.password             string    -         Password of the user. Secret.
//	database.server.id            int       0         Replica server id the connector registers with; must be unique among the server's replicas. 0 picks a random id at every start.
//	database.flavor               string    -         Server flavour, mysql or mariadb; detected from the server's version when absent. One of: , mysql, mariadb.
//	database.include.list         list      -         Regular expressions (full match) of database names to capture; all non-system databases when absent.
//	database.exclude.list         list      -         Regular expressions (full match) of database names not to capture.
//	table.include.list            list      -         Regular expressions (full match) of <database>.<table> names to capture; all tables when absent.
//	table.exclude.list            list      -         Regular expressions (full match) of <database>.<table> names not to capture.
//	snapshot.mode                 string    initial   initial: snapshot on first start, then stream; never: stream from the current position; when_needed: like initial, and snapshot again when the stored position was purged; initial_only: snapshot, then end. One of: initial, never, when_needed, initial_only.
//	snapshot.chunk.size           int       2048      Rows per primary-key-ordered snapshot chunk (one SELECT).
//	snapshot.max.threads          int       1         Tables the snapshot reads at once, each on its own connection in a read view of the same instant. Above 1 the readers may open under a brief FLUSH TABLES WITH READ LOCK (needs RELOAD; see snapshot.locking.mode): on MySQL always, on MariaDB only when writes keep lock-free openings apart, and there without the lock the snapshot falls back to one thread.
//	snapshot.locking.mode         string    minimal   minimal: the snapshot may hold FLUSH TABLES WITH READ LOCK for the moment its readers open (needs RELOAD; on MySQL always, on MariaDB only for several readers on a busy server), and goes on without it when the server refuses it or does not grant it within snapshot.lock.timeout.ms; none: never take it (for managed servers that forbid it). Without the lock a MySQL snapshot needs GTIDs (gtid_mode=ON) and may repeat the changes committed while its readers open; a MariaDB one stays exact. One of: minimal, none.
//	snapshot.lock.timeout.ms      duration  10000     Longest wait for FLUSH TABLES WITH READ LOCK (the server's lock_wait_timeout, whole seconds, for that statement only); writes stall while it waits. When it runs out the snapshot goes on as without the lock (see snapshot.locking.mode).
//	gtid.mode                     string    auto      Resume by GTID (on), by binlog file and position (off), or by GTID when the server has GTIDs enabled (auto). One of: auto, on, off.
//	heartbeat.interval.ms         duration  0         When positive, a heartbeat event carrying the current position is emitted after this long without a change event, so quiet tables still advance the committed position. 0 disables heartbeats.
//	heartbeat.action.query        string    -         SQL run on the source at every heartbeat (for example an UPDATE of a heartbeat table) so a quiet server's binlog keeps moving.
//	provide.transaction.metadata  boolean   false     Emit transaction BEGIN and END events (ferry.mysql.transaction) around the changes of every transaction that touches a captured table, and add a transaction block (id, total_order, data_collection_order) to change events.
//	batch.size                    int       2048      Most records returned by one Read.
//	batch.max.bytes               int       4194304   Approximate bytes of record data after which a Read returns its batch.
//	max.queue.size                int       16        Binlog events decoded ahead of Read (go-mysql's event cache). Each rows event holds at most binlog_row_event_max_size bytes of rows, so memory stays bounded.
//	connect.timeout.ms            duration  10000     Time limit for connecting to the server.
var spec = api.Spec{
	{Name: "database.hostname", Type: api.TypeString, Required: true,
		Description: "Host name or IP address of the MySQL or MariaDB server."},
	{Name: "database.port", Type: api.TypeInt, Default: "3306", Check: api.Range(1, 65535),
		Description: "TCP port of the server."},
	{Name: "database.user", Type: api.TypeString, Required: true,
		Description: "User to connect as; needs SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE and REPLICATION CLIENT (BINLOG MONITOR on MariaDB) on *.*."},
	{Name: "database.password", Type: api.TypeString, Secret: true,
		Description: "Password of the user."},
	{Name: "database.server.id", Type: api.TypeInt, Default: "0", Check: api.Range(0, 4294967295),
		Description: "Replica server id the connector registers with; must be unique among the server's replicas. 0 picks a random id at every start."},
	{Name: "database.flavor", Type: api.TypeString, Enum: []string{"", "mysql", "mariadb"},
		Description: "Server flavour, mysql or mariadb; detected from the server's version when absent."},
	{Name: "database.include.list", Type: api.TypeList,
		Description: "Regular expressions (full match) of database names to capture; all non-system databases when absent."},
	{Name: "database.exclude.list", Type: api.TypeList,
		Description: "Regular expressions (full match) of database names not to capture."},
	{Name: "table.include.list", Type: api.TypeList,
		Description: "Regular expressions (full match) of <database>.<table> names to capture; all tables when absent."},
	{Name: "table.exclude.list", Type: api.TypeList,
		Description: "Regular expressions (full match) of <database>.<table> names not to capture."},
	{Name: "snapshot.mode", Type: api.TypeString, Default: SnapshotInitial,
		Enum:        []string{SnapshotInitial, SnapshotNever, SnapshotWhenNeeded, SnapshotInitialOnly},
		Description: "initial: snapshot on first start, then stream; never: stream from the current position; when_needed: like initial, and snapshot again when the stored position was purged; initial_only: snapshot, then end."},
	{Name: "snapshot.chunk.size", Type: api.TypeInt, Default: "2048", Check: api.Range(1, 1<<20),
		Description: "Rows per primary-key-ordered snapshot chunk (one SELECT)."},
	{Name: "snapshot.max.threads", Type: api.TypeInt, Default: "1", Check: api.Range(1, 64),
		Description: "Tables the snapshot reads at once, each on its own connection in a read view of the same instant. Above 1 the readers may open under a brief FLUSH TABLES WITH READ LOCK (needs RELOAD; see snapshot.locking.mode): on MySQL always, on MariaDB only when writes keep lock-free openings apart, and there without the lock the snapshot falls back to one thread."},
	{Name: "snapshot.locking.mode", Type: api.TypeString, Default: LockingMinimal, Enum: []string{LockingMinimal, LockingNone},
		Description: "minimal: the snapshot may hold FLUSH TABLES WITH READ LOCK for the moment its readers open (needs RELOAD; on MySQL always, on MariaDB only for several readers on a busy server), and goes on without it when the server refuses it or does not grant it within snapshot.lock.timeout.ms; none: never take it (for managed servers that forbid it). Without the lock a MySQL snapshot needs GTIDs (gtid_mode=ON) and may repeat the changes committed while its readers open; a MariaDB one stays exact."},
	{Name: "snapshot.lock.timeout.ms", Type: api.TypeDuration, Default: "10000", Check: durationRange(time.Second, time.Hour),
		Description: "Longest wait for FLUSH TABLES WITH READ LOCK (the server's lock_wait_timeout, whole seconds, for that statement only); writes stall while it waits. When it runs out the snapshot goes on as without the lock (see snapshot.locking.mode)."},
	{Name: "gtid.mode", Type: api.TypeString, Default: "auto", Enum: []string{"auto", "on", "off"},
		Description: "Resume by GTID (on), by binlog file and position (off), or by GTID when the server has GTIDs enabled (auto)."},
	{Name: "heartbeat.interval.ms", Type: api.TypeDuration, Default: "0",
		Description: "When positive, a heartbeat event carrying the current position is emitted after this long without a change event, so quiet tables still advance the committed position. 0 disables heartbeats."},
	{Name: "heartbeat.action.query", Type: api.TypeString,
		Description: "SQL run on the source at every heartbeat (for example an UPDATE of a heartbeat table) so a quiet server's binlog keeps moving."},
	{Name: "provide.transaction.metadata", Type: api.TypeBool, Default: "false",
		Description: "Emit transaction BEGIN and END events (ferry.mysql.transaction) around the changes of every transaction that touches a captured table, and add a transaction block (id, total_order, data_collection_order) to change events."},
	{Name: "batch.size", Type: api.TypeInt, Default: "2048", Check: api.Range(1, 1<<20),
		Description: "Most records returned by one Read."},
	{Name: "batch.max.bytes", Type: api.TypeInt, Default: "4194304", Check: api.Range(1024, 1<<30),
		Description: "Approximate bytes of record data after which a Read returns its batch."},
	{Name: "max.queue.size", Type: api.TypeInt, Default: "16", Check: api.Range(1, 4096),
		Description: "Binlog events decoded ahead of Read (go-mysql's event cache). Each rows event holds at most binlog_row_event_max_size bytes of rows, so memory stays bounded."},
	{Name: "connect.timeout.ms", Type: api.TypeDuration, Default: "10000",
		Description: "Time limit for connecting to the server."},
}

// durationRange returns a Check accepting durations (Go syntax or integer
// milliseconds, as api.TypeDuration) in [min, max].
func durationRange(min, max time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if ms, perr := strconv.ParseInt(v, 10, 64); perr == nil {
			d, err = time.Duration(ms)*time.Millisecond, nil
			if ms > int64(max/time.Millisecond) {
				d = max + 1
			}
		}
		if err != nil || d < min || d > max {
			return fmt.Errorf("must be between %v and %v", min, max)
		}
		return nil
	}
}

// settings is the typed view of a task's configuration.
type settings struct {
	host, user, password string
	port                 int
	serverID             uint32
	flavor               string
	dbInclude, dbExclude []*regexp.Regexp
	tblInclude           []*regexp.Regexp
	tblExclude           []*regexp.Regexp
	snapshotMode         string
	chunk                int
	threads              int
	locking              string
	lockTimeout          time.Duration
	gtidMode             string
	heartbeat            time.Duration
	heartbeatSQL         string
	txMeta               bool
	batch, batchBytes    int
	queue                int
	connectTimeout       time.Duration
}

func parseSettings(c api.Config) (*settings, error) {
	s := &settings{
		host:           c.String("database.hostname"),
		port:           c.Int("database.port"),
		user:           c.String("database.user"),
		password:       c.String("database.password"),
		serverID:       uint32(c.Int("database.server.id")),
		flavor:         c.String("database.flavor"),
		snapshotMode:   c.String("snapshot.mode"),
		chunk:          c.Int("snapshot.chunk.size"),
		threads:        c.Int("snapshot.max.threads"),
		locking:        c.String("snapshot.locking.mode"),
		lockTimeout:    c.Duration("snapshot.lock.timeout.ms"),
		gtidMode:       c.String("gtid.mode"),
		heartbeat:      c.Duration("heartbeat.interval.ms"),
		heartbeatSQL:   c.String("heartbeat.action.query"),
		txMeta:         c.Bool("provide.transaction.metadata"),
		batch:          c.Int("batch.size"),
		batchBytes:     c.Int("batch.max.bytes"),
		queue:          c.Int("max.queue.size"),
		connectTimeout: c.Duration("connect.timeout.ms"),
	}
	if s.port == 0 {
		s.port = 3306
	}
	if s.snapshotMode == "" {
		s.snapshotMode = SnapshotInitial
	}
	if s.locking == "" {
		s.locking = LockingMinimal
	}
	if s.lockTimeout <= 0 {
		s.lockTimeout = 10 * time.Second
	}
	if s.gtidMode == "" {
		s.gtidMode = "auto"
	}
	if s.chunk <= 0 {
		s.chunk = 2048
	}
	if s.threads <= 0 {
		s.threads = 1
	}
	if s.batch <= 0 {
		s.batch = 2048
	}
	if s.batchBytes <= 0 {
		s.batchBytes = 4 << 20
	}
	if s.queue <= 0 {
		s.queue = 16
	}
	if s.connectTimeout <= 0 {
		s.connectTimeout = 10 * time.Second
	}
	var errs []api.FieldError
	for _, l := range []struct {
		key string
		dst *[]*regexp.Regexp
	}{
		{"database.include.list", &s.dbInclude}, {"database.exclude.list", &s.dbExclude},
		{"table.include.list", &s.tblInclude}, {"table.exclude.list", &s.tblExclude},
	} {
		for _, p := range c.List(l.key) {
			// Debezium matches the whole name, so anchor every pattern.
			re, err := regexp.Compile(`^(?:` + p + `)$`)
			if err != nil {
				errs = append(errs, api.FieldError{Field: l.key, Message: fmt.Sprintf("bad regular expression %q: %v", p, err)})
				continue
			}
			*l.dst = append(*l.dst, re)
		}
	}
	if errs != nil {
		return nil, api.Fatal(&api.ValidationError{Fields: errs})
	}
	return s, nil
}

// systemDB reports databases that are never captured.
func systemDB(db string) bool {
	switch strings.ToLower(db) {
	case "mysql", "information_schema", "performance_schema", "sys":
		return true
	}
	return false
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// dbWanted reports whether database db is captured.
func (s *settings) dbWanted(db string) bool {
	if systemDB(db) {
		return false
	}
	if len(s.dbInclude) > 0 && !matchAny(s.dbInclude, db) {
		return false
	}
	return !matchAny(s.dbExclude, db)
}

// tableWanted reports whether table db.table is captured.
func (s *settings) tableWanted(db, table string) bool {
	if !s.dbWanted(db) {
		return false
	}
	name := db + "." + table
	if len(s.tblInclude) > 0 && !matchAny(s.tblInclude, name) {
		return false
	}
	return !matchAny(s.tblExclude, name)
}
