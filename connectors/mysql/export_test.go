package mysql

import "github.com/ferryhq/ferry/api"

// SnapshotQueries returns the chunk SELECTs src ran per table since Open;
// call it between Reads.
func SnapshotQueries(src api.Source) map[string]int { return src.(*source).snapQueries }

// SetLockFreeAttempts sets how often src's MariaDB snapshot tries to open
// several readers at one instant without a lock; call it before Open.
func SetLockFreeAttempts(src api.Source, n int) { src.(*source).lockFreeAttempts = n }

// DirectRowsEvents returns how many rows events of captured tables src's
// binlog stream has rendered straight from their bytes (rowdecode.go) rather than through
// go-mysql's decoding; call it between Reads.
func DirectRowsEvents(src api.Source) int {
	if s := src.(*source); s.strm != nil {
		return s.strm.direct
	}
	return 0
}
