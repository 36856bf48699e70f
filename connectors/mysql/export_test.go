package mysql

import "github.com/ferryhq/ferry/api"

// SnapshotQueries returns the chunk SELECTs src ran per table since Open;
// call it between Reads.
func SnapshotQueries(src api.Source) map[string]int { return src.(*source).snapQueries }

// SetLockFreeAttempts sets how often src's MariaDB snapshot tries to open
// several readers at one instant without a lock; call it before Open.
func SetLockFreeAttempts(src api.Source, n int) { src.(*source).lockFreeAttempts = n }
