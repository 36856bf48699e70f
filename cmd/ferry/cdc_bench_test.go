package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	sinks := []struct {
		name string
		conf map[string]string
	}{
		{"bench-drop", map[string]string{"sink": "drop"}},
		{"bench-rocketmq", topic.sinkConfig()},
		{"bench-mariadb", dst.sinkConfig()},
	}
	ack := func(c string) float64 { return w.metric("ferry_sink_task_sink_record_ack_total", c) }
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
	start := time.Now()
	half := rows / 2
	for from := 1; from <= half; from += 10000 {
		to := min(from+9999, half)
		src.exec(fmt.Sprintf("INSERT INTO bench SELECT seq, CONCAT('name-', seq), seq * 7, seq / 100, '2026-01-01' + INTERVAL seq SECOND FROM seq_%d_to_%d", from, to))
	}
	for from := 1; from <= half; from += 10000 {
		src.exec("UPDATE bench SET n = n + 1, name = CONCAT(name, '+') WHERE id BETWEEN ? AND ?", from, min(from+9999, half))
	}
	changes := 2 * half
	t.Logf("load: %d changes written in %s", changes, time.Since(start).Round(time.Millisecond))

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
		t.Logf("BENCH streaming %-15s %7d changes in %7s = %7.0f rows/s (load avg %s before, %s after)",
			s.name, changes, el.Round(time.Millisecond), float64(changes)/el.Seconds(), la, loadavg())
	}

	// Snapshot of the loaded table into drop, and into MariaDB.
	dst2 := newCDCDB(t, "bdst2")
	dst2.exec(ddl)
	dst2.exec("CREATE TABLE warm (id INT PRIMARY KEY)")
	for _, s := range []struct {
		name string
		conf map[string]string
	}{{"snap-drop", map[string]string{"sink": "drop"}}, {"snap-mariadb", dst2.sinkConfig()}} {
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
