package rds

import (
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/ferryhq/ferry/connectors/kit"
)

var (
	// errNotChange reports a record in cdc mode whose data is not a
	// Debezium change envelope.
	errNotChange = errors.New("data is not a change event (no op, before and after)")
	// errNoKey reports a change that cannot be applied by primary key: the
	// target has none, or the event lacks its values.
	errNoKey = errors.New("cannot apply by primary key")
	// errNoTable reports a cdc target table that does not exist.
	errNoTable = errors.New("target table does not exist")
	// errUnknownColumn reports a column the target lacks while schema
	// evolution is off.
	errUnknownColumn = errors.New("column does not exist in the target table (schema.evolution=none)")
	// errBadName reports a table or column name Ferry will not quote.
	errBadName = errors.New("invalid identifier")
	// errBadValue reports a rendered value that is not one JSON value.
	errBadValue = errors.New("value is not valid JSON")
)

// Server error numbers Ferry acts on; see the MySQL and MariaDB error
// references.
const (
	erDupEntry           = 1062
	erNoReferencedRow    = 1216
	erRowIsReferenced    = 1217
	erRowIsReferenced2   = 1451
	erNoReferencedRow2   = 1452
	erBadNull            = 1048
	erNoDefault          = 1364
	erDataTooLong        = 1406
	erOutOfRange         = 1264
	erTruncatedWrong     = 1292
	erWarnDataTruncated  = 1265
	erIncorrectValue     = 1366
	erDivByZero          = 1365
	erBadFieldError      = 1054
	erNoSuchTable        = 1146
	erCheckConstraint    = 3819 // MySQL
	erConstraintFailed   = 4025 // MariaDB
	erInvalidJSONText    = 3140 // MySQL
	erNumericOutOfRange  = 1690
	erWrongValueForType  = 1411
	erCantCreateRow      = 1471
	erLockDeadlock       = 1213
	erLockWaitTimeout    = 1205
	erConCount           = 1040
	erServerShutdown     = 1053
	erQueryInterrupted   = 1317
	erConnectionKilled   = 1927 // MariaDB
	erOptionPreventsStmt = 1290 // read-only server, e.g. during a failover
	erAccessDenied       = 1045
	erDBAccessDenied     = 1044
	erTableAccessDenied  = 1142
	erColumnAccessDenied = 1143
	erBadDB              = 1049
	erParseError         = 1064
	erWrongParamCount    = 1210
)

// triage sorts the server's and the driver's errors (kit.Triage).
var triage = kit.Triage{Classify: classify}

// classify sorts a driver error: a record's data at fault (constraints,
// bad values, a missing table or column), fatal (permissions, a missing
// database, SQL the server cannot parse), else transient. Unknown errors
// are transient, as the engine treats unclassified I/O errors.
func classify(err error) kit.Class {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erDupEntry, erNoReferencedRow, erRowIsReferenced, erRowIsReferenced2, erNoReferencedRow2,
			erBadNull, erNoDefault, erDataTooLong, erOutOfRange, erTruncatedWrong, erWarnDataTruncated,
			erIncorrectValue, erDivByZero, erCheckConstraint, erConstraintFailed, erInvalidJSONText,
			erNumericOutOfRange, erWrongValueForType, erCantCreateRow, erBadFieldError, erNoSuchTable:
			return kit.RecordFault
		case erAccessDenied, erDBAccessDenied, erTableAccessDenied, erColumnAccessDenied, erBadDB,
			erParseError, erWrongParamCount:
			return kit.Fatal
		}
		return kit.Transient
	}
	// Lost connections (driver.ErrBadConn, mysql.ErrInvalidConn, network
	// errors) and everything else unknown are worth another attempt.
	return kit.Transient
}

// engineError wraps err for the engine: Fatal for permanent faults,
// Retryable otherwise (record faults reach here only outside a batch).
func engineError(what string, err error) error {
	return triage.Mark(fmt.Errorf("rds sink: %s: %w", what, err))
}

// errorsAsMySQL reports whether the server answered err (as opposed to a
// lost connection), so repeating the statement would likely fail again.
func errorsAsMySQL(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number != erLockDeadlock && me.Number != erLockWaitTimeout &&
		me.Number != erConCount && me.Number != erServerShutdown && me.Number != erQueryInterrupted &&
		me.Number != erConnectionKilled && me.Number != erOptionPreventsStmt
}
