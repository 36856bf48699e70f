package mysql

import "errors"

// Start-up check failures. Each is returned wrapped in api.Fatal with a
// message naming the server setting or grant to change.
var (
	// ErrBinlogDisabled: the server writes no binary log.
	ErrBinlogDisabled = errors.New("mysql-cdc: binary logging is disabled")
	// ErrBinlogFormat: binlog_format is not ROW.
	ErrBinlogFormat = errors.New("mysql-cdc: binlog_format is not ROW")
	// ErrRowImage: binlog_row_image is not FULL.
	ErrRowImage = errors.New("mysql-cdc: binlog_row_image is not FULL")
	// ErrRowMetadata: binlog_row_metadata is not FULL, so row events carry
	// no column names.
	ErrRowMetadata = errors.New("mysql-cdc: binlog_row_metadata is not FULL")
	// ErrPrivileges: the connector's user lacks grants it needs.
	ErrPrivileges = errors.New("mysql-cdc: missing privileges")
	// ErrPurged: the stored binlog position is no longer on the server.
	ErrPurged = errors.New("mysql-cdc: the stored binlog position has been purged")
	// ErrBadPosition: a committed position this source cannot decode.
	ErrBadPosition = errors.New("mysql-cdc: committed position is not valid")
	// ErrLockingMode: the snapshot cannot be taken as
	// snapshot.locking.mode asks on this server.
	ErrLockingMode = errors.New("mysql-cdc: snapshot locking mode not possible")
	// ErrDecode: a row value the source cannot represent.
	ErrDecode = errors.New("mysql-cdc: cannot decode row")
)
