package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	_ "github.com/go-sql-driver/mysql"

	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/internal/testbed/rocketmqtest"
)

// Helpers of the flagship CDC end-to-end tests (cdc_e2e_test.go): fresh
// databases on the test bed's MariaDB, RocketMQ topics (created and read
// back with rocketmqtest), and the worker's metrics and memory.

var cdcSeq atomic.Int64

// cdcDB is a fresh database on the test bed's MariaDB, dropped when the
// test ends.
type cdcDB struct {
	t    testing.TB
	cfg  testbed.MySQLConfig
	name string
	db   *sql.DB
}

func cdcDSN(cfg testbed.MySQLConfig, db string) string {
	// No parseTime: times read back as the server prints them, so dumps
	// compare text with text.
	return fmt.Sprintf("%s:%s@tcp(%s)/%s?multiStatements=true", cfg.User, cfg.Password, cfg.Addr(), db)
}

func newCDCDB(t testing.TB, role string) *cdcDB {
	t.Helper()
	cfg := testbed.MySQL(t)
	name := testbed.Database(t, cfg, "ferry_e2e_"+role)
	db, err := sql.Open("mysql", cdcDSN(cfg, name))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	d := &cdcDB{t: t, cfg: cfg, name: name, db: db}
	t.Cleanup(func() { db.Close() })
	return d
}

func (d *cdcDB) exec(q string, args ...any) int64 {
	d.t.Helper()
	res, err := d.db.Exec(q, args...)
	if err != nil {
		d.t.Fatalf("%s: %s: %v", d.name, abbrev(q), err)
	}
	n, _ := res.RowsAffected()
	return n
}

func abbrev(q string) string {
	if len(q) > 200 {
		return q[:200] + "…"
	}
	return q
}

// rows returns every row of q as strings, NULL as "NULL".
func (d *cdcDB) rows(q string, args ...any) [][]string {
	d.t.Helper()
	return testbed.QueryRows(d.t, d.db, q, args...)
}

func (d *cdcDB) count(table string) int {
	d.t.Helper()
	n, _ := strconv.Atoi(d.rows("SELECT COUNT(*) FROM " + table)[0][0])
	return n
}

// checksum is CHECKSUM TABLE's value; equal table definitions and rows
// give equal checksums.
func (d *cdcDB) checksum(table string) string {
	d.t.Helper()
	return d.rows("CHECKSUM TABLE " + table)[0][1]
}

// sourceConfig is the mysql-cdc source part of a connector config
// capturing this database.
func (d *cdcDB) sourceConfig() map[string]string {
	return map[string]string{
		"source":                       "mysql-cdc",
		"source.database.hostname":     d.cfg.Host,
		"source.database.port":         strconv.Itoa(d.cfg.Port),
		"source.database.user":         d.cfg.User,
		"source.database.password":     d.cfg.Password,
		"source.database.include.list": d.name,
	}
}

// sinkConfig is the rds sink part (cdc mode) writing into this database.
func (d *cdcDB) sinkConfig() map[string]string {
	return map[string]string{
		"sink":          "rds",
		"sink.hostname": d.cfg.Host,
		"sink.port":     strconv.Itoa(d.cfg.Port),
		"sink.user":     d.cfg.User,
		"sink.password": d.cfg.Password,
		"sink.database": d.name,
		"sink.mode":     "cdc",
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// loadavg is the machine's 1-minute load average, reported with every
// figure because the machine is shared.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// --- RocketMQ ---------------------------------------------------------------

// rmqTopic is a topic created for one test.
type rmqTopic struct {
	t       testing.TB
	namesrv string
	broker  string
	name    string
	queues  int
}

// newRMQTopic creates a topic with n queues and waits for its route.
func newRMQTopic(t testing.TB, prefix string, n int) *rmqTopic {
	t.Helper()
	return &rmqTopic{t: t, namesrv: testbed.RocketMQ(t), broker: testbed.RocketMQBroker(t),
		name: rocketmqtest.Topic(t, prefix, n), queues: n}
}

func (tp *rmqTopic) sinkConfig() map[string]string {
	return map[string]string{
		"sink":             "rocketmq",
		"sink.nameservers": tp.namesrv,
		"sink.topic":       tp.name,
	}
}

// total is the number of messages stored in the topic's queues.
func (tp *rmqTopic) total() int64 {
	tp.t.Helper()
	ends, err := rocketmqtest.Ends(context.Background(), tp.broker, tp.name, tp.queues)
	if err != nil {
		tp.t.Fatal(err)
	}
	var n int64
	for _, e := range ends {
		n += e
	}
	return n
}

// each calls f for every message of every queue from offset 0, queue by
// queue in queue order.
func (tp *rmqTopic) each(f func(queue int, m *primitive.MessageExt)) {
	tp.t.Helper()
	queues, err := rocketmqtest.ReadAll(context.Background(), tp.broker, tp.name, tp.queues)
	if err != nil {
		tp.t.Fatalf("read back: %v", err)
	}
	for q, msgs := range queues {
		for _, m := range msgs {
			f(q, m)
		}
	}
}

// --- change events ------------------------------------------------------------

// cdcEvent is what the tests read of a structured CloudEvent from the
// mysql-cdc source.
type cdcEvent struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Subject string `json:"subject"`
	Data    struct {
		Before json.RawMessage `json:"before"`
		After  json.RawMessage `json:"after"`
		Op     string          `json:"op"`
		DDL    string          `json:"ddl"`
		Kind   string          `json:"kind"`
		Parsed *bool           `json:"parsed"`
	} `json:"data"`
}

// canon decodes JSON into a comparable value: numbers that are integers
// keep their digits (so 18446744073709551615 stays exact), other numbers
// become float64.
func canon(raw []byte) (any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return canonValue(v), nil
}

func canonValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return "int:" + string(x)
		}
		if _, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return "int:" + string(x)
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		if f == float64(int64(f)) && f < 1e15 && f > -1e15 {
			return "int:" + strconv.FormatInt(int64(f), 10)
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = canonValue(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = canonValue(e)
		}
		return x
	}
	return v
}

// canonOf is canon of a Go value marshalled to JSON.
func canonOf(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	c, err := canon(b)
	if err != nil {
		panic(err)
	}
	return c
}

func equalJSON(a, b any) bool { return reflect.DeepEqual(a, b) }
