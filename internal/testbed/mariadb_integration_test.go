package testbed_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	_ "github.com/go-sql-driver/mysql"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestMariaDBBinlogRoundTrip writes an INSERT and an UPDATE and reads both
// back from the binlog as row events with every column's value — what the
// CDC source depends on (ROW format, FULL row image, a user with
// REPLICATION SLAVE).
func TestMariaDBBinlogRoundTrip(t *testing.T) {
	t.Parallel()
	cfg := testbed.MySQL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()

	db, err := sql.Open("mysql", cfg.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The server settings CDC depends on, read as root (RootDSN).
	root, err := sql.Open("mysql", cfg.RootDSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var format, image, metadata string
	if err := root.QueryRowContext(ctx, "SELECT @@binlog_format, @@binlog_row_image, @@binlog_row_metadata").
		Scan(&format, &image, &metadata); err != nil {
		t.Fatalf("as root: %v", err)
	}
	if format != "ROW" || image != "FULL" || metadata != "FULL" {
		t.Fatalf("binlog_format=%s binlog_row_image=%s binlog_row_metadata=%s, want ROW FULL FULL", format, image, metadata)
	}

	const schema = "ferry_it"
	table := fmt.Sprintf("rt_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+schema); err != nil {
		t.Fatalf("create database (the CDC user has ALL on ferry%%): %v", err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf(
		"CREATE TABLE %s.%s (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, amount DECIMAL(10,2), note TEXT NULL)",
		schema, table)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.Exec(fmt.Sprintf("DROP TABLE IF EXISTS %s.%s", schema, table)) })

	var pos string
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	gset, err := mysql.ParseMariadbGTIDSet(pos)
	if err != nil {
		t.Fatalf("parse gtid %q: %v", pos, err)
	}

	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		// Unique among this server's replicas, including other test runs.
		ServerID:        100000 + rand.Uint32N(1<<30),
		Flavor:          mysql.MariaDBFlavor,
		Host:            cfg.Host,
		Port:            uint16(cfg.Port),
		User:            cfg.User,
		Password:        cfg.Password,
		EventCacheCount: 64,
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	defer syncer.Close()
	streamer, err := syncer.StartSyncGTID(gset)
	if err != nil {
		t.Fatalf("start binlog sync after %q: %v", pos, err)
	}

	if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s.%s VALUES (1, 'alpha', 12.50, NULL)", schema, table)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("UPDATE %s.%s SET name = 'beta', note = 'n' WHERE id = 1", schema, table)); err != nil {
		t.Fatal(err)
	}

	type change struct {
		kind replication.EventType
		rows [][]any
	}
	var got []change
	for len(got) < 2 {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			t.Fatalf("binlog after %d of 2 row events: %v", len(got), err)
		}
		rows, ok := ev.Event.(*replication.RowsEvent)
		if !ok || string(rows.Table.Schema) != schema || string(rows.Table.Table) != table {
			continue
		}
		got = append(got, change{ev.Header.EventType, rows.Rows})
	}

	want := []change{
		{replication.WRITE_ROWS_EVENTv1, [][]any{{int32(1), "alpha", "12.50", nil}}},
		// An update carries the row before and after (binlog_row_image=FULL).
		{replication.UPDATE_ROWS_EVENTv1, [][]any{
			{int32(1), "alpha", "12.50", nil},
			{int32(1), "beta", "12.50", "n"},
		}},
	}
	for i := range want {
		if got[i].kind != want[i].kind {
			t.Errorf("event %d: type %v, want %v (MariaDB sends v1 row events)", i, got[i].kind, want[i].kind)
		}
		if !reflect.DeepEqual(normalize(got[i].rows), want[i].rows) {
			t.Errorf("event %d rows = %#v, want %#v", i, got[i].rows, want[i].rows)
		}
	}
}

// normalize turns []byte cells (TEXT arrives as bytes) into strings so rows
// compare by value.
func normalize(rows [][]any) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = make([]any, len(r))
		for j, v := range r {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			out[i][j] = v
		}
	}
	return out
}
