package rds_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	cdc "github.com/ferryhq/ferry/connectors/mysql"
)

// TestReplicateFromMySQLCDC runs the real mysql-cdc source against one
// database of the test bed's MariaDB and this sink in cdc mode against
// another (snapshot, then inserts, updates, a key change, deletes and an
// added column while streaming), and compares the tables.
func TestReplicateFromMySQLCDC(t *testing.T) {
	t.Parallel()
	src, dst := newTarget(t), newTarget(t)
	tables := []string{
		`CREATE TABLE ty (id INT PRIMARY KEY, u BIGINT UNSIGNED, d DECIMAL(20,6), f DOUBLE, s VARCHAR(32),
			dt DATETIME(6), ts TIMESTAMP(3) NULL, da DATE, ti TIME, y YEAR, b BIT(8),
			e ENUM('red','green'), st SET('a','b'), j JSON, bin VARBINARY(8), bl BLOB)`,
		"CREATE TABLE kv (k VARCHAR(16), n INT, v TEXT, PRIMARY KEY (k, n))",
		"CREATE TABLE done (id INT PRIMARY KEY)",
	}
	for _, q := range tables {
		src.exec(q)
		dst.exec(q)
	}
	row := func(id int) string {
		return "(" + strconv.Itoa(id) + ", 18446744073709551615, -1234.5678, 0.1, 'ünï " + strconv.Itoa(id) + "', '2026-01-02 03:04:05.000006', " +
			"'2026-05-06 07:08:09.123', '2026-01-02', '-12:34:56', 2026, b'10100101', 'green', 'a,b', '{\"k\": [1, 2]}', x'00ff', 'blob')"
	}
	for id := 1; id <= 30; id++ {
		src.exec("INSERT INTO ty VALUES " + row(id))
		src.exec("INSERT INTO kv VALUES (?, ?, ?)", "k"+strconv.Itoa(id%3), id, "v"+strconv.Itoa(id))
	}
	src.exec("INSERT INTO ty (id) VALUES (100)") // NULLs

	c, err := cdc.Source.Spec.Parse(map[string]string{
		"database.hostname": src.cfg.Host, "database.port": strconv.Itoa(src.cfg.Port),
		"database.user": src.cfg.User, "database.password": src.cfg.Password,
		"database.include.list": src.name, "snapshot.chunk.size": "7", "batch.size": "16",
	})
	if err != nil {
		t.Fatal(err)
	}
	source, err := cdc.Source.New(api.TaskConfig{Connector: "e2e", Tasks: 1, Config: c})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := source.Open(ctx); err != nil {
		t.Skipf("mysql-cdc source does not open here: %v", err)
	}
	defer source.Close(context.Background())
	sink := open(t, dst.config(map[string]string{"mode": "cdc", "exactly.once": "true"}))

	// pump moves batches until the source emits the row done.id = marker.
	pump := func(marker int) {
		t.Helper()
		src.exec("INSERT INTO done VALUES (?)", marker)
		for {
			batch, err := source.Read(ctx)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if err := sink.Write(ctx, batch); err != nil {
				var re *api.RecordErrors
				if errors.As(err, &re) {
					for _, e := range *re {
						t.Errorf("record %s rejected: %v\n%s", batch[e.Index].Event.ID, e.Err, batch[e.Index].Event.Data)
					}
				}
				t.Fatalf("Write: %v", err)
			}
			last := batch[len(batch)-1]
			if err := source.(api.Acker).Ack(ctx, last.Partition, last.Position); err != nil {
				t.Fatal(err)
			}
			for _, r := range batch {
				if r.Event.Subject == src.name+".done" && strings.Contains(string(r.Event.Data), `"after":{"id":`+strconv.Itoa(marker)+`}`) {
					return
				}
			}
		}
	}
	compare := func(stage string) {
		t.Helper()
		for _, q := range []string{
			"SELECT id, u, d, f, s, dt, ts, da, ti, y, b+0, e, st, JSON_COMPACT(j), HEX(bin), bl FROM ty ORDER BY id",
			"SELECT * FROM kv ORDER BY k, n",
			"SELECT * FROM done ORDER BY id",
		} {
			if a, b := src.dump2(q), dst.dump2(q); a != b {
				t.Errorf("%s: %s differs:\nsource:\n%s\ntarget:\n%s", stage, q, a, b)
			}
		}
	}

	pump(1)
	compare("after the snapshot")
	if n := dst.rows("SELECT COUNT(*) FROM ty")[0][0]; n != "31" {
		t.Fatalf("target has %s rows after the snapshot; want 31", n)
	}

	for id := 31; id <= 40; id++ {
		src.exec("INSERT INTO ty VALUES " + row(id))
	}
	src.exec("UPDATE ty SET s = 'changed', j = '[]', ts = NULL WHERE id % 4 = 0")
	src.exec("UPDATE ty SET id = id + 1000 WHERE id IN (5, 6)") // key change
	src.exec("DELETE FROM ty WHERE id % 7 = 0")
	src.exec("UPDATE kv SET v = CONCAT(v, '!') WHERE n < 10")
	src.exec("UPDATE kv SET k = 'moved' WHERE n = 11")
	src.exec("DELETE FROM kv WHERE n > 25")
	src.exec("ALTER TABLE kv ADD COLUMN extra INT")
	src.exec("INSERT INTO kv VALUES ('new', 1, 'x', 42), ('new', 2, 'y', NULL)")
	src.exec("UPDATE kv SET extra = n WHERE k = 'k1'")
	pump(2)
	compare("after streaming")
	if n := dst.rows("SELECT COUNT(*) FROM ty WHERE id > 1000 OR s = 'changed'")[0][0]; n != "12" {
		t.Errorf("target has %s moved or changed rows; want 12", n)
	}

	var typ string
	if err := dst.db.QueryRow("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'kv' AND COLUMN_NAME = 'extra'", dst.name).Scan(&typ); err != nil || typ != "bigint" {
		t.Errorf("added column: type %q, %v; want bigint", typ, err)
	}
	var pos string
	if err := dst.db.QueryRow("SELECT position FROM ferry_offsets WHERE connector = 'rds-test'").Scan(&pos); err != nil || !strings.Contains(pos, `"file"`) {
		t.Errorf("stored position %q, %v", pos, err)
	}
}
