package main

import (
	"database/sql"
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// The mixed load of the flagship tests: several tables with a spread of
// column types, inserts, updates and deletes in multi-row statements, and a
// model of every change event the mysql-cdc source must emit for it, per
// primary key and in order. Row images are a pure function of (key index,
// version), so the model keeps only integers however long the load.

// cdcTable is one table of the load. Rows are numbered by a key index k;
// v is the row's version (bumped by every update).
type cdcTable struct {
	name    string
	create  string
	cols    []string // key columns first
	nkey    int
	row     func(k, v int) []any          // SQL values in cols order
	image   func(k, v int) map[string]any // the source's JSON rendering
	keyArgs func(k int) []any
}

var cdcBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func cdcTables() []*cdcTable {
	dec := func(neg bool, i, f, scale int) string {
		s := fmt.Sprintf("%d.%0*d", i, scale, f)
		if neg {
			s = "-" + s
		}
		return s
	}
	statuses := []string{"new", "paid", "shipped"}
	sets := []string{"a", "b", "a,c", "b,c"}
	orders := &cdcTable{
		name: "orders",
		create: `CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(40) NOT NULL, amount DECIMAL(12,2),
			qty INT UNSIGNED, created DATETIME(6), note VARBINARY(16), status ENUM('new','paid','shipped'))`,
		cols: []string{"id", "customer", "amount", "qty", "created", "note", "status"}, nkey: 1,
		keyArgs: func(k int) []any { return []any{k} },
	}
	ordersVals := func(k, v int) (cust, amount string, qty uint32, created, createdJSON string, note []byte, status string) {
		cust = fmt.Sprintf("cust-%d-ü-%d", k%97, v)
		amount = dec((k+v)%5 == 0, (k*7+v)%1000000+1, (k+v)%100, 2)
		qty = uint32(4000000000 - k - v)
		ts := cdcBase.Add(time.Duration(k)*time.Second + time.Duration(v)*time.Minute)
		micros := (k*13 + v*7) % 1000000
		created = ts.Format("2006-01-02 15:04:05") + fmt.Sprintf(".%06d", micros)
		createdJSON = ts.Format("2006-01-02T15:04:05") + fmt.Sprintf(".%06d", micros)
		if k%11 != 0 {
			note = []byte{byte(k), byte(k >> 8), byte(v), 0xff, 0}
		}
		status = statuses[(k+v)%3]
		return
	}
	orders.row = func(k, v int) []any {
		cust, amount, qty, created, _, note, status := ordersVals(k, v)
		var n any
		if note != nil {
			n = note
		}
		return []any{k, cust, amount, qty, created, n, status}
	}
	orders.image = func(k, v int) map[string]any {
		cust, amount, qty, _, created, note, status := ordersVals(k, v)
		var n any
		if note != nil {
			n = base64.StdEncoding.EncodeToString(note)
		}
		return map[string]any{"id": k, "customer": cust, "amount": amount, "qty": qty, "created": created, "note": n, "status": status}
	}

	items := &cdcTable{
		name: "items",
		create: `CREATE TABLE items (order_id INT NOT NULL, line SMALLINT NOT NULL, sku VARCHAR(32), price DOUBLE,
			tags SET('a','b','c'), PRIMARY KEY (order_id, line))`,
		cols: []string{"order_id", "line", "sku", "price", "tags"}, nkey: 2,
		keyArgs: func(k int) []any { return []any{k / 4, k%4 + 1} },
	}
	items.row = func(k, v int) []any {
		return []any{k / 4, k%4 + 1, fmt.Sprintf("sku-%d-%d", k, v), float64(k%1000) + float64(v%8)/4, sets[(k+v)%4]}
	}
	items.image = func(k, v int) map[string]any {
		r := items.row(k, v)
		return map[string]any{"order_id": r[0], "line": r[1], "sku": r[2], "price": r[3], "tags": r[4]}
	}

	customers := &cdcTable{
		name: "customers",
		create: `CREATE TABLE customers (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(64), balance DECIMAL(20,4),
			meta JSON, born DATE, y YEAR)`,
		cols: []string{"id", "name", "balance", "meta", "born", "y"}, nkey: 1,
		keyArgs: func(k int) []any { return []any{uint64(math.MaxUint64) - uint64(k)} },
	}
	custVals := func(k, v int) (id uint64, name, balance, meta, born string, y int) {
		id = uint64(math.MaxUint64) - uint64(k)
		name = fmt.Sprintf("name %d/%d 'q' \"dq\"", k, v)
		balance = dec(v%3 == 1, k*v%100000000, (k+3*v)%10000, 4)
		meta = fmt.Sprintf(`{"v": %d, "tags": ["x", %d], "nested": {"k": "%d"}}`, v, k%5, k)
		born = cdcBase.AddDate(-30, 0, -(k % 20000)).Format("2006-01-02")
		y = 1901 + (k+v)%254
		return
	}
	customers.row = func(k, v int) []any {
		id, name, balance, meta, born, y := custVals(k, v)
		return []any{id, name, balance, meta, born, y}
	}
	customers.image = func(k, v int) map[string]any {
		id, name, balance, _, born, y := custVals(k, v)
		return map[string]any{"id": id, "name": name, "balance": balance,
			"meta": map[string]any{"v": v, "tags": []any{"x", k % 5}, "nested": map[string]any{"k": fmt.Sprint(k)}},
			"born": born, "y": y}
	}
	return []*cdcTable{orders, items, customers}
}

// keyString identifies a row of table by its key columns' canonical values.
func (tb *cdcTable) keyString(img map[string]any) string {
	var b strings.Builder
	b.WriteString(tb.name)
	for _, c := range tb.cols[:tb.nkey] {
		fmt.Fprintf(&b, "|%v", img[c])
	}
	return b.String()
}

// expEvent is one expected change event: op and the versions of the
// before and after images (-1 = none).
type expEvent struct {
	op     byte
	vb, va int
}

// keyExp is the expected event sequence of one row key and how far the
// received events have matched it.
type keyExp struct {
	table *cdcTable
	k     int
	evs   []expEvent
	next  int
}

// cdcLoad generates the load and the expected events.
type cdcLoad struct {
	tables []*cdcTable
	rng    *rand.Rand
	// per table: live key indexes (a slice for random choice, positions
	// for removal) and their versions.
	keys    [][]int
	pos     []map[int]int
	version []map[int]int
	nextK   []int
	expect  map[string]*keyExp
	events  int // change events expected
	// counts per op
	ops map[byte]int
}

func newCDCLoad(seed uint64) *cdcLoad {
	l := &cdcLoad{tables: cdcTables(), rng: rand.New(rand.NewPCG(seed, 1)), expect: map[string]*keyExp{}, ops: map[byte]int{}}
	for range l.tables {
		l.keys = append(l.keys, nil)
		l.pos = append(l.pos, map[int]int{})
		l.version = append(l.version, map[int]int{})
		l.nextK = append(l.nextK, 1)
	}
	return l
}

func (l *cdcLoad) record(ti, k int, ev expEvent) {
	tb := l.tables[ti]
	ks := tb.keyString(canonOf(tb.image(k, 0)).(map[string]any))
	e := l.expect[ks]
	if e == nil {
		e = &keyExp{table: tb, k: k}
		l.expect[ks] = e
	}
	e.evs = append(e.evs, ev)
	l.events++
	l.ops[ev.op]++
}

func (l *cdcLoad) addLive(ti, k, v int) {
	l.pos[ti][k] = len(l.keys[ti])
	l.keys[ti] = append(l.keys[ti], k)
	l.version[ti][k] = v
}

func (l *cdcLoad) removeLive(ti, k int) {
	i := l.pos[ti][k]
	last := l.keys[ti][len(l.keys[ti])-1]
	l.keys[ti][i] = last
	l.pos[ti][last] = i
	l.keys[ti] = l.keys[ti][:len(l.keys[ti])-1]
	delete(l.pos[ti], k)
	delete(l.version[ti], k)
}

// pick returns n distinct live keys of table ti.
func (l *cdcLoad) pick(ti, n int) []int {
	if n > len(l.keys[ti]) {
		n = len(l.keys[ti])
	}
	seen := map[int]bool{}
	var out []int
	for len(out) < n {
		k := l.keys[ti][l.rng.IntN(len(l.keys[ti]))]
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

type execer interface {
	Exec(q string, args ...any) (sql.Result, error)
}

func placeholders(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")"
}

func (l *cdcLoad) insert(db execer, ti int, ks []int, upsert bool) error {
	tb := l.tables[ti]
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", tb.name, strings.Join(tb.cols, ","))
	var args []any
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(placeholders(len(tb.cols)))
		v := 0
		if upsert {
			v = l.version[ti][k] + 1
		}
		args = append(args, tb.row(k, v)...)
	}
	if upsert {
		b.WriteString(" ON DUPLICATE KEY UPDATE ")
		for i, c := range tb.cols[tb.nkey:] {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=VALUES(%s)", c, c)
		}
	}
	if _, err := db.Exec(b.String(), args...); err != nil {
		return fmt.Errorf("%s: %w", abbrev(b.String()), err)
	}
	return nil
}

func (l *cdcLoad) delete(db execer, ti int, ks []int) error {
	tb := l.tables[ti]
	var b strings.Builder
	fmt.Fprintf(&b, "DELETE FROM %s WHERE (%s) IN (", tb.name, strings.Join(tb.cols[:tb.nkey], ","))
	var args []any
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(placeholders(tb.nkey))
		args = append(args, tb.keyArgs(k)...)
	}
	b.WriteByte(')')
	if _, err := db.Exec(b.String(), args...); err != nil {
		return fmt.Errorf("%s: %w", abbrev(b.String()), err)
	}
	return nil
}

// seed inserts n rows per table before the connector starts: the
// snapshot must read each once (op r, image of version 0).
func (l *cdcLoad) seed(db execer, n int) error {
	for ti := range l.tables {
		for done := 0; done < n; {
			m := min(500, n-done)
			ks := make([]int, m)
			for i := range ks {
				ks[i] = l.nextK[ti]
				l.nextK[ti]++
			}
			if err := l.insert(db, ti, ks, false); err != nil {
				return err
			}
			for _, k := range ks {
				l.addLive(ti, k, 0)
				l.record(ti, k, expEvent{op: 'r', vb: -1, va: 0})
			}
			done += m
		}
	}
	return nil
}

// run applies about n changes (inserts 40%, updates 35%, deletes 25%, in
// statements of 1–200 rows, each key at most once per statement) and
// records the events they must produce.
func (l *cdcLoad) run(db execer, n int) error {
	for done := 0; done < n; {
		ti := l.rng.IntN(len(l.tables))
		m := 1 + l.rng.IntN(200)
		if m > n-done {
			m = n - done
		}
		r := l.rng.IntN(100)
		switch {
		case r < 40 || len(l.keys[ti]) < 200:
			ks := make([]int, m)
			for i := range ks {
				ks[i] = l.nextK[ti]
				l.nextK[ti]++
			}
			if err := l.insert(db, ti, ks, false); err != nil {
				return err
			}
			for _, k := range ks {
				l.addLive(ti, k, 0)
				l.record(ti, k, expEvent{op: 'c', vb: -1, va: 0})
			}
		case r < 75:
			ks := l.pick(ti, m)
			m = len(ks)
			if err := l.insert(db, ti, ks, true); err != nil {
				return err
			}
			for _, k := range ks {
				v := l.version[ti][k]
				l.version[ti][k] = v + 1
				l.record(ti, k, expEvent{op: 'u', vb: v, va: v + 1})
			}
		default:
			ks := l.pick(ti, m)
			m = len(ks)
			if err := l.delete(db, ti, ks); err != nil {
				return err
			}
			for _, k := range ks {
				l.record(ti, k, expEvent{op: 'd', vb: l.version[ti][k], va: -1})
				l.removeLive(ti, k)
			}
		}
		done += m
	}
	return nil
}

// verifier checks received change events against the model as they are
// read: per key, events must follow the expected sequence; an event equal
// to an earlier one of the key is an at-least-once replay (counted) and
// the sequence continues after it.
type verifier struct {
	l          *cdcLoad
	db         string
	byName     map[string]*cdcTable
	received   int
	replays    int
	errs       []string
	unexpected int
}

func (l *cdcLoad) verifier(db string) *verifier {
	vf := &verifier{l: l, db: db, byName: map[string]*cdcTable{}}
	for _, tb := range l.tables {
		vf.byName[tb.name] = tb
	}
	return vf
}

func (vf *verifier) fail(format string, args ...any) {
	if len(vf.errs) < 20 {
		vf.errs = append(vf.errs, fmt.Sprintf(format, args...))
	}
}

func (vf *verifier) matches(tb *cdcTable, k int, want expEvent, op string, before, after any) bool {
	if op != string(want.op) {
		return false
	}
	img := func(v int) any {
		if v < 0 {
			return nil
		}
		return canonOf(tb.image(k, v))
	}
	return equalJSON(before, img(want.vb)) && equalJSON(after, img(want.va))
}

// add checks one event; it returns false for events of other tables.
func (vf *verifier) add(ev *cdcEvent) bool {
	table, ok := strings.CutPrefix(ev.Subject, vf.db+".")
	tb := vf.byName[table]
	if !ok || tb == nil {
		return false
	}
	vf.received++
	before, err1 := canon(ev.Data.Before)
	after, err2 := canon(ev.Data.After)
	if err1 != nil || err2 != nil {
		vf.fail("event %s: bad images: %v %v", ev.ID, err1, err2)
		return true
	}
	img, _ := after.(map[string]any)
	if img == nil {
		img, _ = before.(map[string]any)
	}
	if img == nil {
		vf.fail("event %s (%s): no image", ev.ID, ev.Data.Op)
		return true
	}
	e := vf.l.expect[tb.keyString(img)]
	if e == nil {
		vf.unexpected++
		vf.fail("event %s: key %s was never written", ev.ID, tb.keyString(img))
		return true
	}
	if e.next < len(e.evs) && vf.matches(tb, e.k, e.evs[e.next], ev.Data.Op, before, after) {
		e.next++
		return true
	}
	for j := e.next - 1; j >= 0; j-- {
		if vf.matches(tb, e.k, e.evs[j], ev.Data.Op, before, after) {
			vf.replays++
			e.next = j + 1
			return true
		}
	}
	want := "nothing more"
	if e.next < len(e.evs) {
		w := e.evs[e.next]
		want = fmt.Sprintf("op %c before %v after %v", w.op, imageOrNil(tb, e.k, w.vb), imageOrNil(tb, e.k, w.va))
	}
	vf.fail("key %s: event %s op %s before %s after %s; want %s (event %d of %d)",
		tb.keyString(img), ev.ID, ev.Data.Op, ev.Data.Before, ev.Data.After, want, e.next+1, len(e.evs))
	return true
}

func imageOrNil(tb *cdcTable, k, v int) any {
	if v < 0 {
		return nil
	}
	return canonOf(tb.image(k, v))
}

// finish reports keys whose sequence did not complete.
func (vf *verifier) finish() []string {
	missing := 0
	for ks, e := range vf.l.expect {
		if e.next != len(e.evs) {
			if missing < 5 {
				vf.fail("key %s: only %d of %d events arrived in order", ks, e.next, len(e.evs))
			}
			missing++
		}
	}
	if missing > 0 {
		vf.fail("%d keys incomplete", missing)
	}
	return vf.errs
}
