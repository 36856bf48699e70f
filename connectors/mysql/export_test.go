package mysql

import "github.com/ferryhq/ferry/api"

// SnapshotQueries returns the chunk SELECTs src ran per table since Open;
// call it between Reads.
func SnapshotQueries(src api.Source) map[string]int { return src.(*source).snapQueries }
