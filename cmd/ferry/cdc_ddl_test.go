package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// ddlModel is the source table evo and the change events its statements
// must produce, with the columns in force when each row was written.
type ddlModel struct {
	t    *testing.T
	src  *cdcDB
	cols []string // current columns, in order
	rows map[int]map[string]any
	want map[int][]ddlEvent
}

type ddlEvent struct {
	op            string
	before, after any // canonical images
}

func (m *ddlModel) image(id int) any {
	if r, ok := m.rows[id]; ok {
		return canonOf(r)
	}
	return nil
}

// set inserts (when id is new) or updates row id with vals in one
// statement and records the event.
func (m *ddlModel) set(id int, vals map[string]any) {
	m.t.Helper()
	before := m.image(id)
	row, exists := m.rows[id]
	if !exists {
		row = map[string]any{}
		for _, c := range m.cols {
			row[c] = nil
		}
		row["id"] = id
	}
	row = maps.Clone(row)
	maps.Copy(row, vals)
	var names, marks []string
	var args []any
	for _, c := range m.cols {
		names = append(names, c)
		marks = append(marks, "?")
		args = append(args, row[c])
	}
	if exists {
		var sets []string
		for c := range vals {
			sets = append(sets, c+" = ?")
		}
		q := "UPDATE evo SET " + strings.Join(sets, ", ") + " WHERE id = ?"
		var uargs []any
		for c := range vals {
			uargs = append(uargs, vals[c])
		}
		m.src.exec(q, append(uargs, id)...)
	} else {
		m.src.exec("INSERT INTO evo ("+strings.Join(names, ",")+") VALUES ("+strings.Join(marks, ",")+")", args...)
	}
	m.rows[id] = row
	op := "u"
	if !exists {
		op = "c"
	}
	m.want[id] = append(m.want[id], ddlEvent{op: op, before: before, after: m.image(id)})
}

func (m *ddlModel) del(id int) {
	m.t.Helper()
	before := m.image(id)
	m.src.exec("DELETE FROM evo WHERE id = ?", id)
	delete(m.rows, id)
	m.want[id] = append(m.want[id], ddlEvent{op: "d", before: before})
}

// alter runs a DDL statement and applies its effect to the model's rows.
func (m *ddlModel) alter(q string, f func(row map[string]any)) {
	m.t.Helper()
	m.src.exec(q)
	for id, r := range m.rows {
		r = maps.Clone(r)
		f(r)
		m.rows[id] = r
	}
}

// TestCDCDDLDuringStreaming adds, drops and renames a column and widens a
// type while both pipelines stream. RocketMQ must carry every row change
// decoded with the structure in force when it was written (not the live
// one) and every DDL as its own event. The rds sink adds the new column by
// itself (schema.evolution=basic); a drop needs nothing (the target keeps
// the column, NULL in later rows); a rename and a type change are not
// evolved by the sink (docs/rds-sink.md), so the test applies them to the
// target as an operator would: after the source's DDL, once the target has
// caught up to it and before rows of the new shape are written.
func TestCDCDDLDuringStreaming(t *testing.T) {
	ferryBinary(t)
	src, dst := newCDCDB(t, "dsrc"), newCDCDB(t, "ddst")
	const ddl = "CREATE TABLE evo (id INT PRIMARY KEY, a INT, b VARCHAR(20), n INT)"
	for _, d := range []*cdcDB{src, dst} {
		d.exec(ddl)
		d.exec("CREATE TABLE done (id INT PRIMARY KEY)")
	}
	m := &ddlModel{t: t, src: src, cols: []string{"id", "a", "b", "n"}, rows: map[int]map[string]any{}, want: map[int][]ddlEvent{}}
	for id := 1; id <= 20; id++ {
		m.set(id, map[string]any{"a": id, "b": fmt.Sprint("b", id), "n": id * 10})
		m.want[id] = []ddlEvent{{op: "r", after: m.image(id)}} // read by the snapshot
	}
	topic := newRMQTopic(t, "ferry-cdc-ddl", 4)
	w := startWorker(t, filepath.Join(t.TempDir(), "data"), freeAddr(t))
	w.createConnector("ddl-rmq", merge(cdcCommon, src.sourceConfig(), topic.sinkConfig()))
	w.createConnector("ddl-rds", merge(cdcCommon, src.sourceConfig(), dst.sinkConfig()))
	marker := 0
	caughtUp := func() {
		t.Helper()
		marker++
		src.exec("INSERT INTO done VALUES (?)", marker)
		waitMarker(t, w, "ddl-rds", dst, marker, 90*time.Second)
	}
	caughtUp()

	for id := 21; id <= 40; id++ {
		m.set(id, map[string]any{"a": id, "b": fmt.Sprint("b", id), "n": id * 10})
	}
	for id := 1; id <= 10; id++ {
		m.set(id, map[string]any{"a": id + 100})
	}
	for id := 11; id <= 15; id++ {
		m.del(id)
	}
	// Add: rows written before it and read after it keep their old shape.
	m.alter("ALTER TABLE evo ADD COLUMN c VARCHAR(10) NULL", func(r map[string]any) { r["c"] = nil })
	m.cols = []string{"id", "a", "b", "n", "c"}
	for id := 41; id <= 50; id++ {
		m.set(id, map[string]any{"a": id, "b": fmt.Sprint("b", id), "n": id * 10, "c": fmt.Sprint("c", id)})
	}
	for id := 16; id <= 20; id++ {
		m.set(id, map[string]any{"c": "u"})
	}
	// Drop.
	m.alter("ALTER TABLE evo DROP COLUMN a", func(r map[string]any) { delete(r, "a") })
	m.cols = []string{"id", "b", "n", "c"}
	for id := 21; id <= 25; id++ {
		m.set(id, map[string]any{"b": fmt.Sprint("dropped-a-", id)})
	}
	for id := 51; id <= 55; id++ {
		m.set(id, map[string]any{"b": fmt.Sprint("b", id), "n": id * 10, "c": "new"})
	}
	m.del(41)
	// Rename.
	m.alter("ALTER TABLE evo RENAME COLUMN b TO bb", func(r map[string]any) { r["bb"] = r["b"]; delete(r, "b") })
	m.cols = []string{"id", "bb", "n", "c"}
	caughtUp()
	dst.exec("ALTER TABLE evo RENAME COLUMN b TO bb")
	for id := 26; id <= 30; id++ {
		m.set(id, map[string]any{"bb": fmt.Sprint("renamed-", id)})
	}
	for id := 56; id <= 60; id++ {
		m.set(id, map[string]any{"bb": fmt.Sprint("bb", id), "n": id * 10})
	}
	// Type change: INT to BIGINT, then values beyond INT.
	m.alter("ALTER TABLE evo MODIFY n BIGINT", func(map[string]any) {})
	caughtUp()
	dst.exec("ALTER TABLE evo MODIFY n BIGINT")
	for id := 31; id <= 35; id++ {
		m.set(id, map[string]any{"n": 5000000000 + id})
	}
	for id := 61; id <= 65; id++ {
		m.set(id, map[string]any{"bb": fmt.Sprint("bb", id), "n": -5000000000 - id, "c": "big"})
	}
	m.del(2)
	caughtUp()

	// MariaDB: the source's columns are identical in the target.
	q := "SELECT id, bb, n, c FROM evo ORDER BY id"
	if a, b := src.rows(q), dst.rows(q); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("target differs from the source after the DDL")
		diffTables(t, src, dst, q)
	} else {
		t.Logf("target: %d rows equal to the source on (id, bb, n, c)", len(a))
	}
	if n := dst.rows("SELECT COUNT(*) FROM evo WHERE id > 50 AND a IS NOT NULL")[0][0]; n != "0" {
		t.Errorf("%s rows written after the drop have a value in the target's dropped column a", n)
	}

	// RocketMQ: every row change with the images of its time, and the DDL.
	want := 0
	for _, evs := range m.want {
		want += len(evs)
	}
	want += 4 + marker // DDL events and markers
	w.waitFor("ddl-rmq", 60*time.Second, "all events in RocketMQ", func() bool { return topic.total() >= int64(want) })
	got := map[int][]ddlEvent{}
	var ddls []string
	topic.each(func(q int, msg *primitive.MessageExt) {
		var ev cdcEvent
		if err := json.Unmarshal(msg.Body, &ev); err != nil {
			t.Errorf("queue %d: %v", q, err)
			return
		}
		if ev.Data.DDL != "" {
			if ev.Data.Parsed == nil || !*ev.Data.Parsed {
				t.Errorf("DDL event %s not parsed: %s", ev.ID, msg.Body)
			}
			ddls = append(ddls, ev.Data.Kind+": "+ev.Data.DDL)
			return
		}
		if ev.Subject != src.name+".evo" {
			return
		}
		before, _ := canon(ev.Data.Before)
		after, _ := canon(ev.Data.After)
		img, _ := after.(map[string]any)
		if img == nil {
			img, _ = before.(map[string]any)
		}
		var id int
		fmt.Sscanf(fmt.Sprint(img["id"]), "int:%d", &id)
		got[id] = append(got[id], ddlEvent{op: ev.Data.Op, before: before, after: after})
	})
	for id, evs := range m.want {
		g := dedupe(got[id])
		if len(g) != len(evs) {
			t.Errorf("row %d: %d events, want %d:\n got %v\nwant %v", id, len(g), len(evs), g, evs)
			continue
		}
		for i := range evs {
			if g[i].op != evs[i].op || !equalJSON(g[i].before, evs[i].before) || !equalJSON(g[i].after, evs[i].after) {
				t.Errorf("row %d event %d:\n got %+v\nwant %+v", id, i, g[i], evs[i])
			}
		}
	}
	if len(ddls) != 4 {
		t.Errorf("%d DDL events, want 4: %q", len(ddls), ddls)
	} else {
		t.Logf("DDL events: %q", ddls)
	}
}

// dedupe drops at-least-once repeats: an event equal to the one before it.
func dedupe(evs []ddlEvent) []ddlEvent {
	var out []ddlEvent
	for _, e := range evs {
		if n := len(out); n > 0 && out[n-1].op == e.op && equalJSON(out[n-1].before, e.before) && equalJSON(out[n-1].after, e.after) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// TestCDCUnreadableDDLWarns runs a DDL statement the source's classifier
// cannot read (a comment between ALTER and TABLE): the task keeps running,
// its status line carries the warning with the statement, and the changes
// after it still arrive.
func TestCDCUnreadableDDLWarns(t *testing.T) {
	ferryBinary(t)
	src := newCDCDB(t, "dwarn")
	src.exec("CREATE TABLE w (id INT PRIMARY KEY, a INT)")
	src.exec("INSERT INTO w VALUES (1, 1)")
	w := startWorker(t, filepath.Join(t.TempDir(), "data"), freeAddr(t))
	w.createConnector("ddl-warn", merge(cdcCommon, src.sourceConfig(), map[string]string{"sink": "drop"}))
	acked := func() float64 { return w.metric("ferry_sink_task_sink_record_ack_total", "ddl-warn") }
	w.waitFor("ddl-warn", time.Minute, "snapshot acknowledged", func() bool { return acked() >= 1 })

	const unreadable = "ALTER /* reviewed */ TABLE w ADD COLUMN z INT"
	src.exec(unreadable)
	src.exec("INSERT INTO w VALUES (2, 2, 2)")
	var tasks []string
	w.waitFor("ddl-warn", time.Minute, "the warning in the task status", func() bool {
		_, tasks = w.connectorState("ddl-warn")
		return len(tasks) == 1 && strings.HasPrefix(tasks[0], "RUNNING warning: DDL not understood")
	})
	if !strings.Contains(tasks[0], unreadable) {
		t.Errorf("status %q does not name the statement %q", tasks[0], unreadable)
	}
	// The snapshot row, the ddl event and the insert after it.
	w.waitFor("ddl-warn", time.Minute, "the insert after the DDL acknowledged", func() bool { return acked() >= 3 })
}
