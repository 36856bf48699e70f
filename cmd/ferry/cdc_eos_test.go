package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCDCExactlyOnce: mysql-cdc → rds with sink.exactly.once, and an
// offset store that never commits while the task runs
// (offset.flush.interval.ms is an hour). The worker is SIGKILLed after the
// target took a load of inserts, updates and deletes; more changes,
// deletes among them, happen while it is down. Restarted, the task must
// resume from the position the target stored with its rows: the source
// returns exactly the changes made after the kill, and the target ends
// identical to the source.
//
// Without the sink's positions the restarted source would have only the
// offset store's, which this test shows to be empty: it would snapshot the
// tables again (re-reading every row) and could not remove from the target
// the rows deleted while the worker was down.
func TestCDCExactlyOnce(t *testing.T) {
	changes := envInt(t, "FERRY_E2E_CDC_CHANGES", 100000) / 10
	const seedRows = 1000
	ferryBinary(t)
	src, dst := newCDCDB(t, "eossrc"), newCDCDB(t, "eosdst")
	load := newCDCLoad(3)
	for _, d := range []*cdcDB{src, dst} {
		for _, tb := range load.tables {
			d.exec(tb.create)
		}
		d.exec("CREATE TABLE done (id INT PRIMARY KEY)")
	}
	if err := load.seed(src.db, seedRows); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	w := startWorker(t, dataDir, addr)
	w.createConnector("eos", merge(src.sourceConfig(), dst.sinkConfig(), map[string]string{
		"offset.flush.interval.ms": "3600000",
		"sink.exactly.once":        "true",
	}))
	w.waitFor("eos", time.Minute, "the snapshot in the target", func() bool { return dst.count("customers") == seedRows })
	if err := load.run(src.db, changes/2); err != nil {
		t.Fatal(err)
	}
	src.exec("INSERT INTO done VALUES (1)")
	waitMarker(t, w, "eos", dst, 1, 2*time.Minute)
	if got := w.committedPosition("eos"); got != "" {
		t.Fatalf("the offset store holds %q; the test needs it empty (nothing committed within the hour)", got)
	}
	before := load.events
	w.kill()
	stored := dst.rows("SELECT position FROM ferry_offsets WHERE connector = 'eos'")
	if len(stored) != 1 {
		t.Fatalf("target stores %d positions for the connector; want 1", len(stored))
	}
	t.Logf("worker SIGKILLed after the snapshot (%d rows), %d changes and the marker reached the target; offset store empty; target stores position %s",
		load.ops['r'], before-load.ops['r'], stored[0][0])

	// Changes while the worker is down, deletes among them.
	deletesBefore := load.ops['d']
	if err := load.run(src.db, changes/4); err != nil {
		t.Fatal(err)
	}
	downDeletes := load.ops['d'] - deletesBefore

	w2 := startWorker(t, dataDir, addr)
	// The position read from the target is committed to the offset store
	// at task start, so the REST API tells what the source resumes from.
	w2.waitFor("eos", time.Minute, "the target's position in the offset store", func() bool {
		return w2.committedPosition("eos") == stored[0][0]
	})
	if err := load.run(src.db, changes/4); err != nil {
		t.Fatal(err)
	}
	src.exec("INSERT INTO done VALUES (2)")
	waitMarker(t, w2, "eos", dst, 2, 2*time.Minute)
	compareTables(t, src, dst, "orders", "items", "customers", "done")

	// Exactly the changes after the kill and the marker: nothing before
	// the stored position is read again.
	want := load.events - before + 1
	polled := int(w2.metric("ferry_source_task_source_record_poll_total", "eos"))
	t.Logf("after the restart the source returned %d records: %d changes after the kill (%d of them deletes while the worker was down) and the marker; from the empty offset store it would have snapshotted every live row again",
		polled, want-1, downDeletes)
	if polled != want {
		t.Errorf("restarted source returned %d records; want %d", polled, want)
	}

	w2.kill()
	const line = `msg="source resumes from positions stored by the sink"`
	if strings.Contains(w.logText(), line) {
		t.Error("the first start logged positions taken from the sink, which held none")
	}
	if logs := w2.logText(); !strings.Contains(logs, line) || !strings.Contains(logs, src.cfg.Addr()) {
		t.Errorf("the restarted worker did not log taking partition %s from the sink", src.cfg.Addr())
	}
}

// committedPosition is the source position the offset store holds for
// the connector's one partition (GET /connectors/{name}/offsets), empty
// when none.
func (w *proc) committedPosition(connector string) string {
	w.t.Helper()
	code, body := w.do("GET", "/connectors/"+connector+"/offsets", nil)
	if code != 200 {
		w.t.Fatalf("offsets: HTTP %d %s", code, body)
	}
	var out struct {
		Offsets []struct {
			Offset struct {
				Position string `json:"position"`
			} `json:"offset"`
		} `json:"offsets"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		w.t.Fatalf("offsets %s: %v", body, err)
	}
	switch len(out.Offsets) {
	case 0:
		return ""
	case 1:
	default:
		w.t.Fatalf("offsets of %s: %d partitions, want at most 1: %s", connector, len(out.Offsets), body)
	}
	return out.Offsets[0].Offset.Position
}
