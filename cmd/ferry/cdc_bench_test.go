package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestCDCThroughput measures the flagship pipelines through the real
// binary (the figures of docs/benchmarks.md, "Flagship pipelines"). It runs
// only with FERRY_E2E_CDC_BENCH=1:
//
//	FERRY_E2E_CDC_BENCH=1 go test -run TestCDCThroughput -v ./cmd/ferry/
//
// Streaming: each connector is paused while the load (rows/2 inserts, then
// rows/2 updates, in 10,000-row statements) is written, then resumed alone;
// the figure is the change events acknowledged by its sink per second from
// the resume (reconnect included). Snapshot: a connector created on the
// loaded table reads it into the drop sink. Peak worker RSS is sampled
// throughout. Size: FERRY_E2E_CDC_BENCH_ROWS (default 200000).
func TestCDCThroughput(t *testing.T) {
	if envInt(t, "FERRY_E2E_CDC_BENCH", 0) == 0 {
		t.Skip("set FERRY_E2E_CDC_BENCH=1 to run the flagship benchmarks")
	}
	rows := envInt(t, "FERRY_E2E_CDC_BENCH_ROWS", 200000)
	ferryBinary(t)
	src, dst := newCDCDB(t, "bsrc"), newCDCDB(t, "bdst")
	const ddl = "CREATE TABLE bench (id INT PRIMARY KEY, name VARCHAR(64), n BIGINT, amount DECIMAL(12,2), ts DATETIME(6))"
	src.exec(ddl)
	dst.exec(ddl)
	// One snapshot record, so that each connector commits a position
	// before it is paused: a source that never committed would snapshot
	// again on resume instead of streaming the load.
	src.exec("CREATE TABLE warm (id INT PRIMARY KEY)")
	dst.exec("CREATE TABLE warm (id INT PRIMARY KEY)")
	src.exec("INSERT INTO warm VALUES (1)")
	topic := newRMQTopic(t, "ferry-cdc-bench", 8)
	w := startWorker(t, filepath.Join(t.TempDir(), "data"), freeAddr(t))
	rss := sampleRSS(w.cmd.Process.Pid)
	sinks := []benchSink{
		{"bench-drop", map[string]string{"sink": "drop"}},
		{"bench-rocketmq", topic.sinkConfig()},
		{"bench-mariadb", dst.sinkConfig()},
	}
	ack := func(c string) float64 { return w.metric("ferry_sink_task_sink_record_ack_total", c) }
	pauseAfterSnapshot(t, w, src, sinks)
	binlogFrom := src.binlogPos()
	start := time.Now()
	changes := writeBenchLoad(src, rows)
	half := changes / 2 // the rows in the table
	t.Logf("load: %d changes written in %s", changes, time.Since(start).Round(time.Millisecond))
	rawRate := rawBinlogRate(t, binlogFrom, changes)
	t.Logf("BENCH raw go-mysql read of the same %d changes (the ceiling): %.0f rows/s", changes, rawRate)

	for _, s := range sinks {
		before := ack(s.name)
		la := loadavg()
		start := time.Now()
		if code, body := w.do("PUT", "/connectors/"+s.name+"/resume", nil); code != http.StatusAccepted {
			t.Fatalf("resume: HTTP %d %s", code, body)
		}
		lastLog := time.Now()
		w.waitFor(s.name, 2*time.Minute, s.name+" caught up", func() bool {
			if time.Since(lastLog) > 5*time.Second {
				lastLog = time.Now()
				t.Logf("%s: acknowledged %.0f, polled %.0f", s.name, ack(s.name), w.metric("ferry_source_task_source_record_poll_total", s.name))
			}
			return ack(s.name)-before >= float64(changes)
		})
		el := time.Since(start)
		rate := float64(changes) / el.Seconds()
		t.Logf("BENCH streaming %-15s %7d changes in %7s = %7.0f rows/s, %3.0f%% of raw (load avg %s before, %s after)",
			s.name, changes, el.Round(time.Millisecond), rate, 100*rate/rawRate, la, loadavg())
	}

	// Snapshot of the loaded table into drop, and into MariaDB.
	dst2 := newCDCDB(t, "bdst2")
	dst2.exec(ddl)
	dst2.exec("CREATE TABLE warm (id INT PRIMARY KEY)")
	for _, s := range []benchSink{{"snap-drop", map[string]string{"sink": "drop"}}, {"snap-mariadb", dst2.sinkConfig()}} {
		la := loadavg()
		start := time.Now()
		w.createConnector(s.name, merge(src.sourceConfig(), s.conf))
		w.waitFor(s.name, 5*time.Minute, s.name+" done", func() bool { return ack(s.name) >= float64(half) })
		el := time.Since(start)
		t.Logf("BENCH snapshot  %-15s %7d rows    in %7s = %7.0f rows/s (load avg %s before, %s after)",
			s.name, half, el.Round(time.Millisecond), float64(half)/el.Seconds(), la, loadavg())
	}
	t.Logf("BENCH worker peak RSS %.1f MB (five connectors, three of them idle after catching up)", rss.Stop())
}

// binlogPos is the server's current binlog file and position.
func (d *cdcDB) binlogPos() gmysql.Position {
	d.t.Helper()
	row := d.rows("SHOW MASTER STATUS")
	if len(row) != 1 {
		d.t.Fatalf("SHOW MASTER STATUS: %v", row)
	}
	var pos uint32
	if _, err := fmt.Sscan(row[0][1], &pos); err != nil {
		d.t.Fatal(err)
	}
	return gmysql.Position{Name: row[0][0], Pos: pos}
}

// rawBinlogRate reads the binlog from `from` with a bare go-mysql syncer
// until it has seen `changes` row changes (an update's before and after
// images count as one) and returns the rate: what reading the same events
// costs with no decoding into records, the ceiling for mysql-cdc.
func rawBinlogRate(t *testing.T, from gmysql.Position, changes int) float64 {
	t.Helper()
	cfg := testbed.MySQL(t)
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 200000 + rand.Uint32N(1<<30), Flavor: gmysql.MariaDBFlavor,
		Host: cfg.Host, Port: uint16(cfg.Port), User: cfg.User, Password: cfg.Password,
	})
	defer syncer.Close()
	start := time.Now()
	streamer, err := syncer.StartSync(from)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n := 0
	for n < changes {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			t.Fatalf("raw binlog read after %d changes: %v", n, err)
		}
		if re, ok := ev.Event.(*replication.RowsEvent); ok {
			switch ev.Header.EventType {
			case replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2:
				n += len(re.Rows) / 2
			default:
				n += len(re.Rows)
			}
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// TestCDCLatency measures write-to-delivery latency of MariaDB → RocketMQ
// at a steady 10,000 rows/s for 10 s (FERRY_E2E_CDC_BENCH=1): every row
// carries the client's clock (µs) taken just before its INSERT, and its
// message the broker's store time (ms), so the figure includes the
// source's commit and the broker's store, and is rounded to 1 ms.
//
//	FERRY_E2E_CDC_BENCH=1 go test -run TestCDCLatency -v ./cmd/ferry/
func TestCDCLatency(t *testing.T) {
	if envInt(t, "FERRY_E2E_CDC_BENCH", 0) == 0 {
		t.Skip("set FERRY_E2E_CDC_BENCH=1 to run the flagship benchmarks")
	}
	const rate, seconds, per = 10000, 10, 100 // rows/s, duration, rows per INSERT
	ferryBinary(t)
	src := newCDCDB(t, "lsrc")
	src.exec("CREATE TABLE lat (id INT PRIMARY KEY, sent BIGINT, pad VARCHAR(100))")
	topic := newRMQTopic(t, "ferry-cdc-lat", 8)
	w := startWorker(t, filepath.Join(t.TempDir(), "data"), freeAddr(t))
	w.createConnector("lat", merge(src.sourceConfig(), topic.sinkConfig()))
	w.waitFor("lat", 30*time.Second, "task running", func() bool {
		_, tasks := w.connectorState("lat")
		return len(tasks) == 1 && strings.HasPrefix(tasks[0], "RUNNING")
	})
	time.Sleep(time.Second) // the snapshot of the empty table, then streaming
	la := loadavg()
	start := time.Now()
	id := 0
	behind := 0
	for i := 0; i < rate*seconds/per; i++ {
		due := start.Add(time.Duration(i) * time.Second * per / rate)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		} else if d < -10*time.Millisecond {
			behind++
		}
		q := "INSERT INTO lat VALUES "
		var args []any
		now := time.Now().UnixMicro()
		for j := 0; j < per; j++ {
			id++
			if j > 0 {
				q += ","
			}
			q += "(?, ?, 'padding padding padding padding padding')"
			args = append(args, id, now)
		}
		src.exec(q, args...)
	}
	wrote := time.Since(start)
	w.waitFor("lat", time.Minute, "all rows in RocketMQ", func() bool { return topic.total() >= int64(id) })
	var lats []float64
	topic.each(func(_ int, m *primitive.MessageExt) {
		var ev struct {
			Data struct {
				After struct {
					Sent int64 `json:"sent"`
				} `json:"after"`
			} `json:"data"`
		}
		if json.Unmarshal(m.Body, &ev) == nil && ev.Data.After.Sent > 0 {
			lats = append(lats, float64(m.StoreTimestamp)-float64(ev.Data.After.Sent)/1000)
		}
	})
	sort.Float64s(lats)
	q := func(p float64) float64 { return lats[int(p*float64(len(lats)-1))] }
	t.Logf("BENCH latency MariaDB → RocketMQ: %d rows at %d rows/s target (%.0f achieved, %d late INSERTs): p50 %.0f ms, p99 %.0f ms, max %.0f ms (load avg %s before, %s after)",
		len(lats), rate, float64(id)/wrote.Seconds(), behind, q(0.5), q(0.99), lats[len(lats)-1], la, loadavg())
}

// benchSink is one connector of a CDC benchmark: its name and the sink
// part of its config.
type benchSink struct {
	name string
	conf map[string]string
}

// pauseAfterSnapshot creates a connector per sink capturing src, waits
// until each committed the position of its one-row snapshot (a source
// that never committed would snapshot again on resume instead of
// streaming the load), and pauses them all, so that the load written next
// is streamed when each is resumed alone.
func pauseAfterSnapshot(t *testing.T, w *proc, src *cdcDB, sinks []benchSink) {
	t.Helper()
	for _, s := range sinks {
		w.createConnector(s.name, merge(src.sourceConfig(), s.conf, map[string]string{"offset.flush.interval.ms": "200"}))
	}
	for _, s := range sinks {
		w.waitFor(s.name, 30*time.Second, "snapshot committed", func() bool {
			key, _ := w.snapshotKey(s.name)
			return key == 1
		})
		if code, body := w.do("PUT", "/connectors/"+s.name+"/pause", nil); code != http.StatusAccepted {
			t.Fatalf("pause: HTTP %d %s", code, body)
		}
	}
	for _, s := range sinks {
		w.waitFor(s.name, 30*time.Second, "paused", func() bool {
			_, tasks := w.connectorState(s.name)
			return len(tasks) == 1 && strings.HasPrefix(tasks[0], "PAUSED")
		})
	}
}

// writeBenchLoad writes rows/2 inserts and then rows/2 updates into the
// bench table, in 10,000-row statements, and returns the changes written.
func writeBenchLoad(src *cdcDB, rows int) int {
	half := rows / 2
	for from := 1; from <= half; from += 10000 {
		to := min(from+9999, half)
		src.exec(fmt.Sprintf("INSERT INTO bench SELECT seq, CONCAT('name-', seq), seq * 7, seq / 100, '2026-01-01' + INTERVAL seq SECOND FROM seq_%d_to_%d", from, to))
	}
	for from := 1; from <= half; from += 10000 {
		src.exec("UPDATE bench SET n = n + 1, name = CONCAT(name, '+') WHERE id BETWEEN ? AND ?", from, min(from+9999, half))
	}
	return 2 * half
}
