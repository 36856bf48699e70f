package rds_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/rds"
	"github.com/ferryhq/ferry/internal/testbed"
)

// target is a fresh database on the test bed's MariaDB, dropped when the
// test ends.
type target struct {
	t    testing.TB
	cfg  testbed.MySQLConfig
	name string
	db   *sql.DB
}

func newTarget(t testing.TB) *target {
	t.Helper()
	cfg := testbed.MySQL(t)
	name := testbed.Database(t, cfg, "ferry_rds")
	db, err := sql.Open("mysql", dsn(cfg, name))
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{t: t, cfg: cfg, name: name, db: db}
	t.Cleanup(func() { db.Close() })
	return tg
}

// dsn reaches db without parseTime, so times read back as the server
// prints them.
func dsn(cfg testbed.MySQLConfig, db string) string {
	return strings.Replace(cfg.DSN(db), "parseTime=true", "parseTime=false", 1)
}

// fresh runs f with a connection pool of its own, closed after, for code
// under a goroutine-leak check.
func (tg *target) fresh(f func(tg *target)) {
	tg.t.Helper()
	db, err := sql.Open("mysql", dsn(tg.cfg, tg.name))
	if err != nil {
		tg.t.Fatal(err)
	}
	defer db.Close()
	c := *tg
	c.db = db
	f(&c)
}

func (tg *target) exec(q string, args ...any) {
	tg.t.Helper()
	if _, err := tg.db.Exec(q, args...); err != nil {
		tg.t.Fatalf("%s: %v", q, err)
	}
}

// config returns the sink settings reaching this database, plus extra.
func (tg *target) config(extra map[string]string) map[string]string {
	c := map[string]string{
		"hostname": tg.cfg.Host,
		"port":     strconv.Itoa(tg.cfg.Port),
		"user":     tg.cfg.User,
		"password": tg.cfg.Password,
		"database": tg.name,
	}
	maps.Copy(c, extra)
	return c
}

// rows returns every row of q as strings, NULL as "NULL".
func (tg *target) rows(q string, args ...any) [][]string {
	tg.t.Helper()
	return testbed.QueryRows(tg.t, tg.db, q, args...)
}

func (tg *target) dump(table, order string) string {
	tg.t.Helper()
	var b strings.Builder
	for _, r := range tg.rows("SELECT * FROM `" + table + "` ORDER BY " + order) {
		b.WriteString(strings.Join(r, "|"))
		b.WriteByte('\n')
	}
	return b.String()
}

// open parses cfg, builds and opens an rds sink, closed at the end.
func open(t testing.TB, cfg map[string]string) api.Sink {
	t.Helper()
	c, err := rds.Sink.Spec.Parse(cfg)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if err := rds.Sink.Validate(c); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	s, err := rds.Sink.New(api.TaskConfig{Connector: "rds-test", Tasks: 1, Config: c})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func write(t testing.TB, s api.Sink, recs []api.Record) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Write(ctx, recs)
}

func mustWrite(t testing.TB, s api.Sink, recs []api.Record) {
	t.Helper()
	if err := write(t, s, recs); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// event returns a record with JSON data.
func event(id string, data any, partition string, pos int) api.Record {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	return api.Record{
		Event: api.Event{
			ID: id, Source: "/test", SpecVersion: api.SpecVersion, Type: "test.v1",
			DataContentType: "application/json", Data: b,
		},
		Partition: partition,
		Position:  api.Position(strconv.Itoa(pos)),
	}
}

// change returns a record in the mysql-cdc source's shape: a Debezium
// envelope, type ferry.mysql.<kind>, key the primary key object.
func change(op byte, table string, before, after map[string]any, pos int) api.Record {
	data := map[string]any{
		"before": before,
		"after":  after,
		"op":     string(op),
		"source": map[string]any{"db": "src", "table": table, "file": "mysql-bin.000001", "pos": pos},
		"ts_ms":  1700000000000,
	}
	img := after
	if img == nil {
		img = before
	}
	r := event(fmt.Sprintf("mysql-bin.000001:%d:1", pos), data, "127.0.0.1:3306", pos)
	r.Event.Type = map[byte]string{'c': "ferry.mysql.insert", 'u': "ferry.mysql.update", 'd': "ferry.mysql.delete", 'r': "ferry.mysql.read"}[op]
	r.Event.Subject = "src." + table
	if img != nil {
		r.Key, _ = json.Marshal(map[string]any{"id": img["id"]})
	}
	return r
}

func recordErrors(t testing.TB, err error) api.RecordErrors {
	t.Helper()
	re, ok := err.(*api.RecordErrors)
	if !ok {
		t.Fatalf("Write returned %v (%T); want *api.RecordErrors", err, err)
	}
	return *re
}
