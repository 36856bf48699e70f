package rds

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/api"
)

// offsetsDDL creates the exactly-once positions table. Names are binary so
// partitions differing only in case stay apart.
func offsetsDDL(table string) string {
	return "CREATE TABLE IF NOT EXISTS " + quoteName(table) + ` (
  connector VARBINARY(255) NOT NULL,
  ` + "`partition`" + ` VARBINARY(767) NOT NULL,
  position BLOB NOT NULL,
  updated DATETIME(6) NOT NULL,
  PRIMARY KEY (connector, ` + "`partition`" + `)
) ENGINE=InnoDB`
}

// storePositions writes, inside tx, the position of each partition's last
// record that precedes the partition's first rejected record. Rejected
// records are thus never covered by a stored position: a task that fails
// on one (errors.tolerance=none) and resumes from the table reads it again.
func (s *sink) storePositions(ctx context.Context, tx *sql.Tx, records []api.Record, rejected map[int]error) error {
	last := map[string]api.Position{}
	stopped := map[string]bool{}
	var order []string
	for i := range records {
		r := &records[i]
		if stopped[r.Partition] {
			continue
		}
		if _, bad := rejected[i]; bad {
			stopped[r.Partition] = true
			continue
		}
		if r.Position == nil {
			continue
		}
		if _, ok := last[r.Partition]; !ok {
			order = append(order, r.Partition)
		}
		last[r.Partition] = r.Position
	}
	return s.upsertPositions(ctx, tx, order, last)
}

// execer is a transaction or the database.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// upsertPositions writes the positions of the partitions in order.
func (s *sink) upsertPositions(ctx context.Context, db execer, order []string, positions map[string]api.Position) error {
	if len(order) == 0 {
		return nil
	}
	var q strings.Builder
	q.WriteString("INSERT INTO " + quoteName(s.cfg.offsetsTable) + " (connector, `partition`, position, updated) VALUES ")
	args := make([]any, 0, 3*len(order))
	for i, p := range order {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?,?,?,UTC_TIMESTAMP(6))")
		args = append(args, s.connector, p, []byte(positions[p]))
	}
	q.WriteString(" ON DUPLICATE KEY UPDATE position=VALUES(position), updated=VALUES(updated)")
	if _, err := db.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("store positions: %w", err)
	}
	return nil
}

// The sink also saves positions the engine committed for records it never
// received (filtered, dead-lettered), so a restart does not replay them.
var _ api.PositionSaver = (*sink)(nil)

// SavePositions stores positions the engine committed, outside any write:
// the engine calls it after its offset commits, when everything up to
// these positions has been written here or will never be (see
// api.PositionSaver). Without exactly.once it does nothing.
func (s *sink) SavePositions(ctx context.Context, positions map[string]api.Position) error {
	if !s.cfg.exactlyOnce || len(positions) == 0 {
		return nil
	}
	if s.db == nil {
		return fmt.Errorf("rds sink: SavePositions before Open")
	}
	order := slices.Sorted(maps.Keys(positions))
	if err := s.upsertPositions(ctx, s.db, order, positions); err != nil {
		return engineError("save positions", err)
	}
	return nil
}

// The sink stores positions with its rows, so the engine starts the source
// from them (see docs/rds-sink.md).
var _ api.PositionStore = (*sink)(nil)

// Positions returns the positions stored for this connector by
// exactly-once writes, by partition: committed in the same transactions as
// the rows, they are never behind them. Without exactly.once nothing is
// stored and the map is empty. Open creates the table, so Positions works
// right after it, before any write.
func (s *sink) Positions(ctx context.Context) (map[string]api.Position, error) {
	out := map[string]api.Position{}
	if !s.cfg.exactlyOnce {
		return out, nil
	}
	if s.db == nil {
		return nil, fmt.Errorf("rds sink: Positions before Open")
	}
	rows, err := s.db.QueryContext(ctx, "SELECT `partition`, position FROM "+quoteName(s.cfg.offsetsTable)+" WHERE connector = ?", s.connector)
	if err != nil {
		return nil, engineError("read positions", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		var pos []byte
		if err := rows.Scan(&p, &pos); err != nil {
			return nil, engineError("read positions", err)
		}
		out[p] = api.Position(pos)
	}
	if err := rows.Err(); err != nil {
		return nil, engineError("read positions", err)
	}
	return out, nil
}
