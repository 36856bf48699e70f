package mysql_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"

	cdc "github.com/ferryhq/ferry/connectors/mysql"
)

const typesTable = `CREATE TABLE types (
	id BIGINT UNSIGNED PRIMARY KEY,
	ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED,
	mi MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
	bi BIGINT, bu BIGINT UNSIGNED,
	f FLOAT, d DOUBLE, dec1 DECIMAL(20,6), dec2 DECIMAL(65,30),
	dt DATETIME(6), dt0 DATETIME, ts TIMESTAMP(3) NULL, dd DATE, tm TIME(6), y YEAR,
	b1 BIT(1), b12 BIT(12), b64 BIT(64),
	e ENUM('red','green','blue'), s SET('a','b','c','d'),
	j JSON, bin BINARY(4), vb VARBINARY(16), bl BLOB, tx TEXT, vc VARCHAR(50), ch CHAR(5),
	gs INT AS (i + 1) STORED, gv INT AS (i + 2) VIRTUAL,
	n INT NULL
)`

const typesValues = `(%s, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
	-9223372036854775808, 18446744073709551615,
	1.5, 2.25, '-12345678901234.123456', '12345678901234567890123456789012345.123456789012345678901234567891',
	'2024-02-29 23:59:59.123456', '1999-12-31 00:00:00', '2024-01-02 03:04:05.678', '2024-02-29', '-123:45:06.5', 2155,
	b'1', b'101010101010', b'1111111111111111111111111111111111111111111111111111111111111111',
	'green', 'd,a', '{"k": [1, 2.5, "x"], "n": null}', 0x00FF10AB, 0xDEADBEEF, 0x000102,
	'tëxt "quoted"\n', 'unicode ✓', 'ab', DEFAULT, DEFAULT, NULL)`

// typesWant is the exact JSON of every column of typesValues but id.
var typesWant = map[string]string{
	"ti": `-128`, "tu": `255`, "si": `-32768`, "su": `65535`, "mi": `-8388608`, "mu": `16777215`,
	"i": `-2147483648`, "iu": `4294967295`, "bi": `-9223372036854775808`, "bu": `18446744073709551615`,
	"f": `1.5`, "d": `2.25`, "dec1": `"-12345678901234.123456"`,
	"dec2": `"12345678901234567890123456789012345.123456789012345678901234567891"`,
	"dt":   `"2024-02-29T23:59:59.123456"`, "dt0": `"1999-12-31T00:00:00"`, "ts": `"2024-01-02T03:04:05.678Z"`,
	"dd": `"2024-02-29"`, "tm": `"-123:45:06.500000"`, "y": `2155`,
	"b1": `1`, "b12": `2730`, "b64": `18446744073709551615`,
	"e": `"green"`, "s": `"a,d"`, "j": `{"k":[1,2.5,"x"],"n":null}`,
	"bin": `"AP8Qqw=="`, "vb": `"3q2+7w=="`, "bl": `"AAEC"`,
	"tx": `"tëxt \"quoted\"\n"`, "vc": `"unicode ✓"`, "ch": `"ab"`, "gs": `-2147483647`, "gv": `-2147483646`, "n": `null`,
}

func checkImage(t *testing.T, what string, img map[string]json.RawMessage, id string, want map[string]string) {
	t.Helper()
	if got := string(img["id"]); got != id {
		t.Errorf("%s: id = %s, want %s", what, got, id)
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got := string(img[k]); got != want[k] {
			t.Errorf("%s: %s = %s, want %s", what, k, got, want[k])
		}
	}
	if len(img) != len(want)+1 {
		t.Errorf("%s: %d columns, want %d: %v", what, len(img), len(want)+1, slices.Sorted(maps.Keys(img)))
	}
}

// TestTypes checks every supported type, as the snapshot reads it and as the
// binlog carries it on insert, update and delete.
func TestTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.exec(t, typesTable, "INSERT INTO types VALUES "+fmt.Sprintf(typesValues, "1"))
	src := mustOpen(t, e.config("batch.size", "1"), nil)

	recs := readN(t, src, 1)
	r := recs[0]
	if r.Event.Type != cdc.TypeRead || r.Event.Subject != e.name+".types" || string(r.Key) != `{"id":1}` {
		t.Fatalf("snapshot record: type %s subject %s key %s", r.Event.Type, r.Event.Subject, r.Key)
	}
	if !r.Event.DataMarkedJSON() {
		t.Error("snapshot record: data not marked as JSON the source rendered")
	}
	env := decode(t, r)
	if env.Op != "r" || env.Before != nil || env.Source.Snapshot != "true" {
		t.Errorf("snapshot envelope: op %q before %v snapshot %q", env.Op, env.Before, env.Source.Snapshot)
	}
	checkImage(t, "snapshot", env.After, "1", typesWant)

	e.exec(t, "INSERT INTO types VALUES "+fmt.Sprintf(typesValues, "18446744073709551615"),
		"UPDATE types SET ti = 127, dec1 = '0.000001', e = 'blue', s = '', j = '[]', bl = NULL, ts = '1970-01-01 00:00:01' WHERE id = 18446744073709551615",
		"DELETE FROM types WHERE id = 18446744073709551615")
	recs = readN(t, src, 3)
	const big = "18446744073709551615"
	updated := maps.Clone(typesWant)
	maps.Copy(updated, map[string]string{"ti": `127`, "dec1": `"0.000001"`, "e": `"blue"`, "s": `""`, "j": `[]`, "bl": `null`, "ts": `"1970-01-01T00:00:01.000Z"`})
	for i, c := range []struct {
		typ, op       string
		before, after map[string]string
	}{
		{cdc.TypeInsert, "c", nil, typesWant},
		{cdc.TypeUpdate, "u", typesWant, updated},
		{cdc.TypeDelete, "d", updated, nil},
	} {
		r := recs[i]
		if !r.Event.DataMarkedJSON() {
			t.Errorf("record %d: data not marked as JSON the source rendered", i)
		}
		env := decode(t, r)
		if r.Event.Type != c.typ || env.Op != c.op || string(r.Key) != `{"id":`+big+`}` {
			t.Errorf("record %d: type %s op %s key %s; want %s %s", i, r.Event.Type, env.Op, r.Key, c.typ, c.op)
		}
		if env.Source.Snapshot != "false" || env.Source.DB != e.name || env.Source.Table != "types" || env.Source.GTID == "" {
			t.Errorf("record %d: source block %+v", i, env.Source)
		}
		if c.before == nil && env.Before != nil || c.after == nil && env.After != nil {
			t.Errorf("record %d: unexpected image: %s", i, r.Event.Data)
		}
		if c.before != nil {
			checkImage(t, c.op+" before", env.Before, big, c.before)
		}
		if c.after != nil {
			checkImage(t, c.op+" after", env.After, big, c.after)
		}
	}
}

// TestResume commits a position inside a multi-row event and checks the
// reopened source continues at exactly the next row with the same ids.
func TestResume(t *testing.T) {
	t.Parallel()
	for _, gtid := range []string{"auto", "off"} {
		t.Run("gtid="+gtid, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.exec(t, "CREATE TABLE m (id INT PRIMARY KEY, v INT)")
			raw := e.config("snapshot.mode", "never", "batch.size", "3", "gtid.mode", gtid)
			src := mustOpen(t, raw, nil)
			e.exec(t, "INSERT INTO m VALUES (1,1),(2,2),(3,3),(4,4),(5,5),(6,6),(7,7),(8,8),(9,9),(10,10)",
				"BEGIN; UPDATE m SET v = v + 100 WHERE id <= 3; DELETE FROM m WHERE id = 10; COMMIT")
			first := readN(t, src, 14)
			if len(first) != 14 {
				t.Fatalf("read %d records, want 14", len(first))
			}
			_ = src.Close(context.Background())

			for _, at := range []int{0, 4, 9, 12} {
				committed := map[string]api.Position{first[at].Partition: first[at].Position}
				src := mustOpen(t, raw, committed)
				rest := readN(t, src, 13-at)
				for i, r := range rest[:13-at] {
					want := first[at+1+i]
					if r.Event.ID != want.Event.ID || string(r.Position) != string(want.Position) || string(r.Event.Data[:40]) != string(want.Event.Data[:40]) {
						t.Errorf("resume after %d (%s): record %d is %s@%s, want %s@%s", at, first[at].Position, i, r.Event.ID, r.Position, want.Event.ID, want.Position)
					}
				}
				_ = src.Close(context.Background())
			}
		})
	}
}

// TestSnapshotConcurrentWrites snapshots a table while another connection
// inserts, updates and deletes, then streams: applying every event in order
// must give the table's final content, with no event id seen twice.
func TestSnapshotConcurrentWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.exec(t, "CREATE TABLE c (id INT PRIMARY KEY, v INT)")
	var vals []byte
	for i := range 3000 {
		if i > 0 {
			vals = append(vals, ',')
		}
		vals = fmt.Appendf(vals, "(%d,%d)", i, i)
	}
	e.exec(t, "INSERT INTO c VALUES "+string(vals))
	src := mustOpen(t, e.config("snapshot.chunk.size", "200", "batch.size", "100"), nil)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 300 {
			_, _ = e.db.Exec(fmt.Sprintf("INSERT INTO c VALUES (%d, %d)", 3000+i, i))
			_, _ = e.db.Exec(fmt.Sprintf("UPDATE c SET v = v + 1000 WHERE id = %d", (i*7919)%3000))
			if i%3 == 0 {
				_, _ = e.db.Exec(fmt.Sprintf("DELETE FROM c WHERE id = %d", (i*104729)%3000))
			}
		}
	}()

	state := map[string]string{}
	seen := map[string]bool{}
	deadline := time.Now().Add(90 * time.Second)
	writerDone := make(chan struct{})
	go func() { wg.Wait(); close(writerDone) }()
	var want map[string]string
	for {
		if want == nil {
			select {
			case <-writerDone:
				want = tableState(t, e, "c")
			default:
			}
		}
		if want != nil && maps.Equal(state, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("applied %d rows, want %d", len(state), len(want))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		batch, err := src.Read(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		ackBatch(t, src, batch)
		for _, r := range batch {
			if seen[r.Event.ID] {
				t.Errorf("event id %s seen twice", r.Event.ID)
			}
			seen[r.Event.ID] = true
			env := decode(t, r)
			switch env.Op {
			case "r", "c", "u":
				state[string(env.After["id"])] = string(env.After["v"])
			case "d":
				delete(state, string(env.Before["id"]))
			}
		}
	}
}

func tableState(t *testing.T, e *env, table string) map[string]string {
	rows, err := e.db.Query("SELECT id, v FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	return out
}

// TestSnapshotResume commits a position in the middle of a snapshot chunk
// and checks the reopened snapshot continues at the next key (earlier
// chunks are not read again), then streams.
func TestSnapshotResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.exec(t, "CREATE TABLE s1 (id INT PRIMARY KEY)", "CREATE TABLE s2 (a VARBINARY(8), b INT, PRIMARY KEY (a, b))")
	for i := range 50 {
		e.exec(t, fmt.Sprintf("INSERT INTO s1 VALUES (%d)", i), fmt.Sprintf("INSERT INTO s2 VALUES (0x%02x00ff, %d)", i%5, i))
	}
	raw := e.config("snapshot.chunk.size", "8", "batch.size", "8")
	src := mustOpen(t, raw, nil)
	first := readN(t, src, 100)
	_ = src.Close(context.Background())
	for _, at := range []int{12, 49, 50, 77} {
		src := mustOpen(t, raw, map[string]api.Position{first[at].Partition: first[at].Position})
		rest := readN(t, src, 99-at)
		for i, r := range rest[:99-at] {
			if want := first[at+1+i]; r.Event.ID != want.Event.ID {
				t.Fatalf("resume after %s: record %d is %s, want %s", first[at].Position, i, r.Event.ID, want.Event.ID)
			}
		}
		// Streaming follows once the snapshot is acknowledged, from the
		// first snapshot's binlog position: earlier rounds' changes replay
		// first (at-least-once), then this round's insert.
		e.exec(t, fmt.Sprintf("INSERT INTO s1 VALUES (%d)", 1000+at))
		want := fmt.Sprint(1000 + at)
		for found, n := false, 0; !found; n++ {
			if n > 20 {
				t.Fatalf("resume after %d: the insert of %s never streamed", at, want)
			}
			for _, r := range readN(t, src, 1) {
				env := decode(t, r)
				if env.Op == "r" {
					t.Fatalf("snapshot record after the snapshot ended: %+v", env)
				}
				found = found || env.Op == "c" && string(env.After["id"]) == want
			}
		}
		// Keep the next round's snapshot equal to the first one.
		e.exec(t, fmt.Sprintf("DELETE FROM s1 WHERE id = %d", 1000+at))
		_ = src.Close(context.Background())
	}
}

// TestDDL checks that a schema change is an event of its own and that rows
// after it are decoded with the new structure.
func TestDDL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.exec(t, "CREATE TABLE d (id INT PRIMARY KEY, a VARCHAR(10), e ENUM('x','y'))")
	src := mustOpen(t, e.config("snapshot.mode", "never"), nil)
	e.exec(t, "INSERT INTO d VALUES (1, 'one', 'y')",
		"ALTER TABLE d ADD COLUMN b INT DEFAULT 7, MODIFY e ENUM('w','x','y'), CHANGE a aa VARCHAR(10)",
		"INSERT INTO d VALUES (2, 'two', 'y', 8)",
		"ALTER TABLE d DROP COLUMN b",
		"UPDATE d SET aa = 'deux' WHERE id = 2",
		"ALTER TABLE d MODIFY id BIGINT UNSIGNED NOT NULL, MODIFY aa TEXT",
		"INSERT INTO d VALUES (18446744073709551615, 'max', 'w')")
	recs := readN(t, src, 7)
	want := []struct{ typ, data string }{
		{cdc.TypeInsert, `"after":{"id":1,"a":"one","e":"y"}`},
		{cdc.TypeDDL, `"kind":"ALTER TABLE","parsed":true`},
		{cdc.TypeInsert, `"after":{"id":2,"aa":"two","e":"y","b":8}`},
		{cdc.TypeDDL, `"table":"d"`},
		{cdc.TypeUpdate, `"before":{"id":2,"aa":"two","e":"y"},"after":{"id":2,"aa":"deux","e":"y"}`},
		{cdc.TypeDDL, `"kind":"ALTER TABLE"`},
		{cdc.TypeInsert, `"after":{"id":18446744073709551615,"aa":"max","e":"w"}`},
	}
	for i, w := range want {
		if recs[i].Event.Type != w.typ || !contains(string(recs[i].Event.Data), w.data) {
			t.Errorf("record %d: %s %s; want %s containing %s", i, recs[i].Event.Type, recs[i].Event.Data, w.typ, w.data)
		}
	}
}

// TestHeartbeat checks that changes to tables not captured still move the
// position through heartbeat events, and that the heartbeat query runs.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.exec(t, "CREATE TABLE hb (id INT PRIMARY KEY, at BIGINT)", "INSERT INTO hb VALUES (1, 0)", "CREATE TABLE other (id INT PRIMARY KEY)")
	src := mustOpen(t, e.config("snapshot.mode", "never", "table.include.list", e.name+`\.nothing`,
		"heartbeat.interval.ms", "1000", "heartbeat.action.query", "UPDATE "+e.name+".hb SET at = at + 1 WHERE id = 1"), nil)
	e.exec(t, "INSERT INTO other VALUES (1)")
	recs := readN(t, src, 1)
	r := recs[0]
	if r.Event.Type != cdc.TypeHeartbeat || len(r.Position) == 0 {
		t.Fatalf("got %s %s, want a heartbeat with a position", r.Event.Type, r.Position)
	}
	// A reopened source resumes from the heartbeat's position.
	_ = src.Close(context.Background())
	src = mustOpen(t, e.config("snapshot.mode", "never"), map[string]api.Position{r.Partition: r.Position})
	e.exec(t, "INSERT INTO other VALUES (2)")
	for found := false; !found; {
		for _, r := range readN(t, src, 1) {
			env := decode(t, r)
			found = env.Source.Table == "other" && string(env.After["id"]) == "2"
			if env.Source.Table == "other" && string(env.After["id"]) == "1" {
				t.Fatalf("resumed before the heartbeat's position: %s", r.Event.Data)
			}
		}
	}
	var at int
	if err := e.db.QueryRow("SELECT at FROM hb WHERE id = 1").Scan(&at); err != nil || at < 1 {
		t.Errorf("heartbeat query ran %d times (%v)", at, err)
	}
}

// TestTransactionMetadata checks BEGIN/END events and their behaviour
// across restarts at every position of a transaction.
func TestTransactionMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.exec(t, "CREATE TABLE t1 (id INT PRIMARY KEY)", "CREATE TABLE t2 (id INT PRIMARY KEY)", "CREATE TABLE skip (id INT PRIMARY KEY)")
	raw := e.config("snapshot.mode", "never", "provide.transaction.metadata", "true", "table.exclude.list", e.name+`\.skip`, "batch.size", "2")
	src := mustOpen(t, raw, nil)
	e.exec(t, "BEGIN; INSERT INTO skip VALUES (1); INSERT INTO t1 VALUES (1),(2),(3); INSERT INTO t2 VALUES (1); COMMIT",
		"INSERT INTO t2 VALUES (2)")
	first := readN(t, src, 9)
	_ = src.Close(context.Background())
	var kinds []string
	for _, r := range first[:9] {
		k := r.Event.Type
		if k == cdc.TypeTx {
			var tx struct{ Status string }
			_ = json.Unmarshal(r.Event.Data, &tx)
			k = tx.Status
		} else {
			k = decode(t, r).Op
		}
		kinds = append(kinds, k)
	}
	if want := []string{"BEGIN", "c", "c", "c", "c", "END", "BEGIN", "c", "END"}; !slices.Equal(kinds, want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	if d := string(first[5].Event.Data); !contains(d, `"event_count":4,"data_collections":[{"data_collection":"`+e.name+`.t1","event_count":3},{"data_collection":"`+e.name+`.t2","event_count":1}]`) {
		t.Errorf("END: %s", d)
	}
	if d := string(first[4].Event.Data); !contains(d, `"total_order":4,"data_collection_order":1}`) {
		t.Errorf("change event's transaction block: %s", d)
	}
	for at := range 8 {
		src := mustOpen(t, raw, map[string]api.Position{first[at].Partition: first[at].Position})
		rest := readN(t, src, 8-at)
		for i, r := range rest[:8-at] {
			if want := first[at+1+i]; r.Event.ID != want.Event.ID {
				t.Errorf("resume after %d (%s): record %d is %s, want %s", at, first[at].Event.ID, i, r.Event.ID, want.Event.ID)
			}
		}
		_ = src.Close(context.Background())
	}
}

// TestBoundedBatches writes one transaction of large rows and checks that
// no Read returns much more than batch.max.bytes, and that every row
// arrives once.
func TestBoundedBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.exec(t, "CREATE TABLE big (id INT PRIMARY KEY, body MEDIUMBLOB)")
	const limit = 256 << 10
	src := mustOpen(t, e.config("snapshot.mode", "never", "batch.max.bytes", fmt.Sprint(limit)), nil)
	tx, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, err := tx.Exec("INSERT INTO big VALUES (?, REPEAT('x', 100000))", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := 0
	for n < 40 {
		batch, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		size := 0
		for _, r := range batch {
			if id := string(decode(t, r).After["id"]); id != fmt.Sprint(n) {
				t.Fatalf("row %s, want %d", id, n)
			}
			n++
			size += r.Size()
		}
		// One record may cross the limit; the next one waits.
		if last := batch[len(batch)-1].Size(); size-last >= limit {
			t.Errorf("batch of %d records, %d bytes: over %d before its last record", len(batch), size, limit)
		}
	}
}

// TestNoPrimaryKey covers a table without a primary key: no record key,
// snapshot ids by row ordinal, changes streamed with full images.
func TestNoPrimaryKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.exec(t, "CREATE TABLE np (a INT, b VARCHAR(5))", "INSERT INTO np VALUES (1,'x'),(1,'x'),(2,'y')")
	src := mustOpen(t, e.config("batch.size", "2"), nil)
	recs := readN(t, src, 3)
	for i, r := range recs[:3] {
		if r.Key != nil || !contains(r.Event.ID, fmt.Sprintf(".np:#%d", i+1)) {
			t.Errorf("snapshot record %d: id %s key %s", i, r.Event.ID, r.Key)
		}
	}
	e.exec(t, "DELETE FROM np WHERE a = 1")
	for _, r := range readN(t, src, 2)[:2] {
		if env := decode(t, r); env.Op != "d" || string(env.Before["b"]) != `"x"` || r.Key != nil {
			t.Errorf("delete: %s key %s", r.Event.Data, r.Key)
		}
	}
}
