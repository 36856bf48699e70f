package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"

	emu "github.com/ferryhq/ferry/internal/emulator/dts"
)

// The dts source end to end (issue 14): a private DTS emulator, fed by
// the test, → the ferry binary → the test bed's MariaDB through the rds
// sink in cdc mode. Sizes scale with:
//
//	FERRY_E2E_DTS_CHANGES   mixed changes fed to the emulator (default 20000; the figure is 100000)

var dtsSeq atomic.Int64

// dtsEmulator starts a private emulator: the test feeds it, and switches
// its store, which the shared one must never see.
func dtsEmulator(t *testing.T) *emu.Server {
	t.Helper()
	n := dtsSeq.Add(1)
	srv, err := emu.New(emu.Config{Addr: "127.0.0.1:0", User: "ferry", Password: "dts-e2e-secret",
		Group: fmt.Sprintf("dtsg_e2e_%d", n), Topic: fmt.Sprintf("cn_hangzhou_rm_e2e_%d_version2", n)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func dtsSourceConfig(srv *emu.Server) map[string]string {
	c := srv.Config()
	return map[string]string{
		"source": "dts", "source.brokers": strings.Join(srv.Brokers(), ","), "source.topic": c.Topic,
		"source.sid": c.Group, "source.user": c.User, "source.password": c.Password,
	}
}

// dtsLoad is a table's source rows and the DTS records that made them: a
// mixed load of inserts, updates and deletes in transactions of a few
// rows, heartbeats between them, a DDL (ADD COLUMN qty) halfway, and
// record times advancing one second per 40 records, so that a resumed
// second holds records to skip.
type dtsLoad struct {
	rng   *rand.Rand
	rows  map[int64][]emu.Value
	ids   []int64 // live ids, for picking
	next  int64
	cols  []emu.Column
	at    time.Time
	n     int // records made
	txn   int
	ops   map[emu.Operation]int
	ddlAt int // change index of the DDL
}

func newDTSLoad(seed uint64, changes int) *dtsLoad {
	return &dtsLoad{
		rng: rand.New(rand.NewPCG(seed, 14)), rows: map[int64][]emu.Value{},
		cols: []emu.Column{{Name: "id", Type: emu.TypeLongLong}, {Name: "note", Type: emu.TypeVarString},
			{Name: "amount", Type: emu.TypeNewDecimal}, {Name: "updated", Type: emu.TypeDateTime}},
		at:  time.Now().Add(-24 * time.Hour).Truncate(time.Second).UTC(),
		ops: map[emu.Operation]int{}, ddlAt: changes / 2,
	}
}

func (l *dtsLoad) stamp() time.Time {
	l.n++
	return l.at.Add(time.Duration(l.n/40) * time.Second)
}

func (l *dtsLoad) image(id int64) []emu.Value {
	v := []emu.Value{emu.Int(id), emu.Text(fmt.Sprintf("note-%d-%d", id, l.rng.IntN(1000))),
		emu.Dec(fmt.Sprintf("%d.%02d", l.rng.IntN(100000), l.rng.IntN(100)), 12, 2),
		emu.DateTimeOf(l.at.Add(time.Duration(l.rng.IntN(1e9)) * time.Microsecond))}
	if len(l.cols) == 5 {
		if l.rng.IntN(4) == 0 {
			v = append(v, nil)
		} else {
			v = append(v, emu.Int(int64(l.rng.IntN(1000))))
		}
	}
	return v
}

// widen gives a row written before the DDL the new column, as NULL.
func (l *dtsLoad) widen(v []emu.Value) []emu.Value {
	if len(v) < len(l.cols) {
		return append(v[:len(v):len(v)], nil)
	}
	return v
}

// batch returns the records of up to n changes (done counts changes made
// so far), whole transactions.
func (l *dtsLoad) batch(done, n int) ([]emu.Change, int) {
	var out []emu.Change
	made := 0
	for made < n {
		if done+made >= l.ddlAt && len(l.cols) == 4 {
			out = append(out, emu.DDLChange(l.stamp(), "shop", "orders", "ALTER TABLE orders ADD COLUMN qty INT"))
			l.cols = append(l.cols[:4:4], emu.Column{Name: "qty", Type: emu.TypeLong})
		}
		l.txn++
		txid := fmt.Sprint(l.txn)
		out = append(out, emu.BeginTx(l.stamp(), txid))
		for k := 1 + l.rng.IntN(5); k > 0 && made < n; k-- {
			c := emu.Change{Database: "shop", Table: "orders", Columns: l.cols, Txid: txid}
			r := l.rng.IntN(10)
			switch {
			case r < 5 || len(l.ids) < 10:
				l.next++
				id := l.next
				c.Op, c.After = emu.Insert, l.image(id)
				l.rows[id] = c.After
				l.ids = append(l.ids, id)
			case r < 8:
				id := l.ids[l.rng.IntN(len(l.ids))]
				c.Op, c.Before, c.After = emu.Update, l.widen(l.rows[id]), l.image(id)
				l.rows[id] = c.After
			default:
				i := l.rng.IntN(len(l.ids))
				id := l.ids[i]
				c.Op, c.Before = emu.Delete, l.widen(l.rows[id])
				delete(l.rows, id)
				l.ids[i] = l.ids[len(l.ids)-1]
				l.ids = l.ids[:len(l.ids)-1]
			}
			c.Timestamp = l.stamp()
			l.ops[c.Op]++
			out = append(out, c)
			made++
		}
		out = append(out, emu.CommitTx(l.stamp(), txid))
		if l.rng.IntN(8) == 0 {
			out = append(out, emu.HeartbeatAt(l.stamp()))
		}
	}
	return out, made
}

// load writes the model's rows into src, the source rows the target must equal.
func (l *dtsLoad) load(t *testing.T, src *cdcDB) {
	t.Helper()
	var vals []string
	var args []any
	flush := func() {
		if len(vals) > 0 {
			src.exec("INSERT INTO orders (id, note, amount, updated, qty) VALUES "+strings.Join(vals, ","), args...)
			vals, args = vals[:0], args[:0]
		}
	}
	for id, v := range l.rows {
		v = l.widen(v)
		dt := v[3].(emu.DateTime)
		qty := any(nil)
		if q, ok := v[4].(emu.Integer); ok {
			qty = q.Value
		}
		vals = append(vals, "(?,?,?,?,?)")
		args = append(args, id, string(v[1].(emu.Character).Value), v[2].(emu.Decimal).Value,
			fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d.%06d", *dt.Year, *dt.Month, *dt.Day, *dt.Hour, *dt.Minute, *dt.Second, *dt.Millis), qty)
		if len(vals) == 500 {
			flush()
		}
	}
	flush()
}

const dtsOrders = "CREATE TABLE orders (id BIGINT PRIMARY KEY, note VARCHAR(64), amount DECIMAL(12,2), updated DATETIME(6))"

// TestDTSToMariaDB feeds a mixed load with a DDL halfway to the emulator
// while the worker replicates it into MariaDB; the worker is SIGKILLed
// mid-stream and restarted, and the emulator's store fails over while the
// new worker reads. The target must equal the source rows, and the
// source must never go back to source.start.timestamp.
func TestDTSToMariaDB(t *testing.T) {
	changes := envInt(t, "FERRY_E2E_DTS_CHANGES", 20000)
	ferryBinary(t)
	srv := dtsEmulator(t)
	src, dst := newCDCDB(t, "dtssrc"), newCDCDB(t, "dtsdst")
	src.exec(dtsOrders + "")
	src.exec("ALTER TABLE orders ADD COLUMN qty INT")
	dst.exec(dtsOrders)
	for _, d := range []*cdcDB{src, dst} {
		d.exec("CREATE TABLE done (id INT PRIMARY KEY)")
	}
	load := newDTSLoad(1, changes)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	publish := func(cs []emu.Change) {
		t.Helper()
		for len(cs) > 0 {
			n := min(len(cs), 2000)
			if err := srv.Publish(ctx, cs[:n]...); err != nil {
				t.Fatal(err)
			}
			cs = cs[n:]
		}
	}
	done := 0
	feed := func(n int) {
		cs, made := load.batch(done, n)
		done += made
		publish(cs)
	}
	start := time.Now()
	feed(changes * 3 / 10)

	dataDir := t.TempDir() + "/data"
	addr := freeAddr(t)
	w := startWorker(t, dataDir, addr)
	cfg := merge(cdcCommon, dtsSourceConfig(srv), dst.sinkConfig(), map[string]string{
		// The start time is before every record: a restart that went
		// back to it would replay everything, visible in the source's
		// warnings and in the rows deleted since.
		"source.start.timestamp": fmt.Sprint(load.at.Add(-time.Hour).Unix()),
		"sink.exactly.once":      "true",
	})
	w.createConnector("dts-rds", cfg)
	w.waitFor("dts-rds", 2*time.Minute, "part of the load in the target", func() bool {
		return dst.count("orders") > 0 && w.metric("ferry_sink_task_sink_record_ack_total", "dts-rds") > float64(changes/10)
	})
	w.kill()
	t.Logf("worker SIGKILLed with %d target rows", dst.count("orders"))
	feed(changes * 3 / 10) // while it is down

	w2 := startWorker(t, dataDir, addr)
	feed(changes * 2 / 10)
	// Wait until the new worker has taken everything fed so far (marker
	// 2), so that the store the failover makes, which holds the last 30
	// seconds of records (1,200), covers its position, as DTS's does.
	marker := func(id int) {
		publish([]emu.Change{{Op: emu.Insert, Database: "shop", Table: "done",
			Columns: []emu.Column{{Name: "id", Type: emu.TypeLong}}, After: []emu.Value{emu.Int(int64(id))}, Timestamp: load.stamp()}})
	}
	marker(2)
	waitMarker(t, w2, "dts-rds", dst, 2, 3*time.Minute)
	keep := load.at.Add(time.Duration(load.n/40-30) * time.Second)
	feed(changes / 10)
	// Fail the store over while the worker reads the records just fed.
	if err := srv.Failover(ctx, keep); err != nil {
		t.Fatal(err)
	}
	t.Logf("store failed over with %d target rows", dst.count("orders"))
	feed(changes - done)
	marker(1)
	src.exec("INSERT INTO done VALUES (1), (2)")
	waitMarker(t, w2, "dts-rds", dst, 1, 3*time.Minute)
	took := time.Since(start)
	t.Logf("load: %d changes (%d inserts, %d updates, %d deletes, a DDL at %d) in %d records; caught up %s after the feed began; load avg %s",
		changes, load.ops[emu.Insert], load.ops[emu.Update], load.ops[emu.Delete], load.ddlAt, load.n, took.Round(time.Millisecond), loadavg())

	load.load(t, src)
	q := "SELECT id, note, amount, updated, qty FROM orders ORDER BY id"
	if a, b := src.rows(q), dst.rows(q); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("target differs from the source rows: source %d rows, target %d rows", len(a), len(b))
		diffTables(t, src, dst, q)
	} else {
		t.Logf("orders: %d rows, ordered dumps equal", len(a))
	}
	logs := w2.logText()
	if !strings.Contains(logs, "another store") {
		t.Error("the restarted worker did not log the store failover")
	}
	if strings.Contains(logs, "not the one after") {
		t.Error("the source warned of records missing after a re-seek")
	}
	if strings.Contains(logs, "no stored position") {
		t.Error("the restarted worker started without a stored position (went back to start.timestamp)")
	}
}

// TestDTSBadInput: what a user gets wrong is refused with a 400 naming
// the field, or fails the task with a status that says what to fix.
func TestDTSBadInput(t *testing.T) {
	ferryBinary(t)
	srv := dtsEmulator(t)
	dst := newCDCDB(t, "dtsbad")
	dst.exec(dtsOrders)
	w := startWorker(t, t.TempDir()+"/data", freeAddr(t))
	base := merge(dtsSourceConfig(srv), dst.sinkConfig())

	for _, c := range []struct {
		name  string
		kv    map[string]string
		field string
	}{
		{"conflicting lists", map[string]string{"source.table.include.list": "shop\\..*", "source.table.exclude.list": "shop\\.x"}, "source.table.exclude.list"},
		{"topic", map[string]string{"source.topic": "bad topic!"}, "source.topic"},
		{"start", map[string]string{"source.start.timestamp": "-1"}, "source.start.timestamp"},
		{"start overflow", map[string]string{"source.start.timestamp": "99999999999999999999"}, "source.start.timestamp"},
		{"sid", map[string]string{"source.sid": strings.Repeat("g", 129)}, "source.sid"},
		{"brokers", map[string]string{"source.brokers": "no-port"}, "source.brokers"},
		{"pattern", map[string]string{"source.table.include.list": "(["}, "source.table.include.list"},
		{"missing password", map[string]string{"source.password": ""}, "source.password"},
	} {
		code, body := w.do("POST", "/connectors", map[string]any{"name": "bad", "config": merge(base, c.kv)})
		if code != http.StatusBadRequest || !strings.Contains(string(body), c.field) {
			t.Errorf("%s: HTTP %d %s; want 400 naming %s", c.name, code, body, c.field)
		}
	}

	failed := func(name, want string) {
		t.Helper()
		w.waitFor(name, time.Minute, "a failed task saying "+want, func() bool {
			_, tasks := w.connectorState(name)
			return len(tasks) > 0 && strings.HasPrefix(tasks[0], "FAILED") && strings.Contains(tasks[0], want)
		})
	}
	w.createConnector("bad-password", merge(base, map[string]string{"source.password": "wrong"}))
	w.createConnector("bad-topic", merge(base, map[string]string{"source.topic": "no_such_topic"}))
	// A client (DTS's SDK, say) holds the group.
	c := srv.Config()
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: srv.Brokers(), Topic: c.Topic, GroupID: c.Group, MaxWait: 100 * time.Millisecond,
		Dialer: &kafkago.Dialer{Timeout: 10 * time.Second, SASLMechanism: plain.Mechanism{Username: c.User + "-" + c.Group, Password: c.Password}},
	})
	defer r.Close()
	if err := srv.Publish(context.Background(), emu.HeartbeatAt(time.Now())); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.FetchMessage(fctx); err != nil {
		t.Fatal(err)
	}
	w.createConnector("group-in-use", base)
	failed("bad-password", "source.password")
	failed("bad-topic", "source.topic")
	failed("group-in-use", "in use")
	if strings.Contains(w.logText(), c.Password) {
		t.Error("the password appears in the worker's log")
	}
}
