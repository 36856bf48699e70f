package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/ferryhq/ferry/internal/cputime"
)

// The Kafka benchmarks of issue 12 through the real binary (the figures of
// docs/benchmarks.md, "Kafka (issue 12)"), each beside its raw-client
// ceiling measured in the same run. They run only with
// FERRY_E2E_KAFKA_BENCH=1:
//
//	FERRY_E2E_KAFKA_BENCH=1 go test -run 'TestKafkaThroughput|TestCDCToKafkaThroughput' -v -timeout 30m ./cmd/ferry/
//
// FERRY_E2E_KAFKA_BENCH_RECORDS (default 1000000) sizes the Kafka runs,
// FERRY_E2E_KAFKA_BENCH_ROUNDS (default 2) repeats them interleaved,
// FERRY_E2E_CDC_BENCH_ROWS (default 200000) sizes the CDC run, and
// FERRY_E2E_PERF_DIR=<dir> records a perf profile of the worker during each
// CDC connector's catch-up (perf record -g; read it with perf report).

func kafkaBench(t *testing.T) {
	t.Helper()
	if envInt(t, "FERRY_E2E_KAFKA_BENCH", 0) == 0 {
		t.Skip("set FERRY_E2E_KAFKA_BENCH=1 to run the Kafka benchmarks")
	}
}

// benchFigure is one measured run: records over wall time, and CPU
// seconds per million records of the process that did the work.
type benchFigure struct {
	records int
	wall    time.Duration
	cpu     time.Duration
}

func (f benchFigure) String() string {
	return fmt.Sprintf("%8.0f records/s, %5.2f cpu-s/Mrec (%d records in %s, %.2f cpu-s)",
		float64(f.records)/f.wall.Seconds(), f.cpu.Seconds()*1e6/float64(f.records),
		f.records, f.wall.Round(time.Millisecond), f.cpu.Seconds())
}

// startPerf records a CPU profile of process pid into
// $FERRY_E2E_PERF_DIR/<name>.perf.data (perf record -g, 997 Hz) until the
// returned function is called; without the variable it does nothing.
func startPerf(t *testing.T, pid int, name string) (stop func()) {
	t.Helper()
	dir := os.Getenv("FERRY_E2E_PERF_DIR")
	if dir == "" {
		return func() {}
	}
	perf := exec.Command("perf", "record", "-F", "997", "-g", "-p", strconv.Itoa(pid), "-o", filepath.Join(dir, name+".perf.data"))
	perf.Stderr = os.Stderr
	if err := perf.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // perf attaches
	return func() {
		_ = perf.Process.Signal(syscall.SIGINT)
		_ = perf.Wait()
	}
}

// runConnector creates a connector on w and measures the wall time and the
// worker's CPU until done reports n records through (the sink's
// acknowledged count when done is nil; a finished task's metrics are
// gone, so a finite source needs another measure); the connector is
// deleted afterwards.
func runConnector(t *testing.T, w *proc, name string, conf map[string]string, n int, done func() int64) benchFigure {
	t.Helper()
	if done == nil {
		done = func() int64 { return int64(w.metric("ferry_sink_task_sink_record_ack_total", name)) }
	}
	pid := w.cmd.Process.Pid
	stopPerf := startPerf(t, pid, name)
	cpu0, start := procCPU(t, pid), time.Now()
	w.createConnector(name, conf)
	deadline := start.Add(3 * time.Minute)
	for done() < int64(n) {
		if time.Now().After(deadline) {
			st, tasks := w.connectorState(name)
			t.Fatalf("%s: %d of %d records through after 3 min; %s %v", name, done(), n, st, tasks)
		}
		// Each poll is a full /metrics scrape the worker pays for (about
		// half a millisecond of its CPU): 20 a second keep that near 1%
		// of a run's CPU and the wall time within 50 ms.
		time.Sleep(50 * time.Millisecond)
	}
	f := benchFigure{records: n, wall: time.Since(start), cpu: procCPU(t, pid) - cpu0}
	stopPerf()
	if code, body := w.do("DELETE", "/connectors/"+name, nil); code != http.StatusNoContent && code != http.StatusOK {
		t.Fatalf("delete %s: HTTP %d %s", name, code, body)
	}
	return f
}

// rawWrite writes n copies of msg into topic with kafka-go's own Writer,
// configured as the sink writes (round-robin, batches of 1024 or 1 MiB,
// acks=all), in synchronous calls of 1024 messages: the ceiling of
// generator → kafka.
func rawWrite(t *testing.T, topic *kafkaTopic, msg kafkago.Message, n int) benchFigure {
	t.Helper()
	w := &kafkago.Writer{
		Addr: kafkago.TCP(topic.brokers...), Topic: topic.name, Balancer: &kafkago.RoundRobin{},
		BatchSize: 1024, BatchBytes: 1 << 20, BatchTimeout: time.Millisecond, RequiredAcks: kafkago.RequireAll,
	}
	defer w.Close()
	msgs := make([]kafkago.Message, 1024)
	cpu0, start := cputime.Self(), time.Now()
	for done := 0; done < n; done += len(msgs) {
		batch := msgs[:min(len(msgs), n-done)]
		for i := range batch {
			batch[i] = kafkago.Message{Value: msg.Value, Headers: msg.Headers}
		}
		if err := w.WriteMessages(context.Background(), batch...); err != nil {
			t.Fatalf("kafka-go Writer: %v", err)
		}
	}
	return benchFigure{records: n, wall: time.Since(start), cpu: cputime.Self() - cpu0}
}

// rawRead reads every record of topic with kafka-go's own Reader, one per
// partition, all at once (MaxBytes 2 MiB, as in every session's figures;
// MaxWait 500 ms, the source's fetch.max.wait): the ceiling of kafka →
// drop.
func rawRead(t *testing.T, topic *kafkaTopic) benchFigure {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ends, err := topic.ends(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	cpu0, start := cputime.Self(), time.Now()
	for p, end := range ends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: topic.brokers, Topic: topic.name, Partition: p,
				MinBytes: 1, MaxBytes: 2 << 20, MaxWait: 500 * time.Millisecond})
			defer r.Close()
			n := 0
			for off := int64(0); off < end-1; n++ {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					t.Errorf("kafka-go Reader %d: %v", p, err)
					return
				}
				off = m.Offset
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return benchFigure{records: total, wall: time.Since(start), cpu: cputime.Self() - cpu0}
}

// TestKafkaThroughput measures generator → kafka and kafka → drop through
// the binary with 1 KB records (the generator's payload.bytes=1024, a
// 1.2 KB structured CloudEvent per record) on 6-partition topics, one task,
// each beside kafka-go's own Writer or Reader moving the same records in
// this process in the same round. kafka → drop runs with one task (one
// fetch loop for the six partitions) and with three (two partitions
// each).
func TestKafkaThroughput(t *testing.T) {
	kafkaBench(t)
	n := envInt(t, "FERRY_E2E_KAFKA_BENCH_RECORDS", 1000000)
	rounds := envInt(t, "FERRY_E2E_KAFKA_BENCH_ROUNDS", 2)
	ferryBinary(t)
	w := startWorker(t, filepath.Join(t.TempDir(), "data"), freeAddr(t))
	t.Logf("machine: %d CPUs; load avg %s", runtime.NumCPU(), loadavg())
	for r := 1; r <= rounds; r++ {
		gen := newKafkaTopic(t, "ferry-bench-gen", 6)
		la := loadavg()
		f := runConnector(t, w, fmt.Sprintf("gen-kafka-%d", r), merge(gen.sinkConfig(), map[string]string{
			"source": "generator", "source.count": strconv.Itoa(n), "source.payload.bytes": "1024",
		}), n, gen.total)
		t.Logf("BENCH round %d generator → kafka (ferry)        %s (load avg %s before, %s after)", r, f, la, loadavg())
		var sample kafkago.Message
		gen.each(func(rec *kafkaRecord) {
			if sample.Value == nil {
				sample = kafkago.Message{Value: rec.value, Headers: rec.headers}
			}
		})
		raw := newKafkaTopic(t, "ferry-bench-raw", 6)
		la = loadavg()
		f = rawWrite(t, raw, sample, n)
		t.Logf("BENCH round %d kafka-go Writer, same bytes        %s (load avg %s before, %s after; value %d B)", r, f, la, loadavg(), len(sample.Value))

		for _, tasks := range []int{1, 3} {
			la = loadavg()
			f = runConnector(t, w, fmt.Sprintf("kafka-drop-%d-%d", r, tasks), merge(gen.sourceConfig(), map[string]string{
				"sink": "drop", "tasks.max": strconv.Itoa(tasks)}), n, nil)
			t.Logf("BENCH round %d kafka → drop (ferry, %d task(s)) %s (load avg %s before, %s after)", r, tasks, f, la, loadavg())
		}
		la = loadavg()
		f = rawRead(t, gen)
		t.Logf("BENCH round %d kafka-go Reader ×6, same topic     %s (load avg %s before, %s after)", r, f, la, loadavg())
	}
}

// TestCDCToKafkaThroughput measures mysql-cdc → kafka beside mysql-cdc →
// drop and mysql-cdc → rocketmq and a bare go-mysql binlog read of the same
// changes, as TestCDCThroughput does: each connector is paused while the
// load is written, then resumed alone; the figure is its sink's
// acknowledged changes per second from the resume, and the worker's CPU
// over the same window.
func TestCDCToKafkaThroughput(t *testing.T) {
	kafkaBench(t)
	rows := envInt(t, "FERRY_E2E_CDC_BENCH_ROWS", 200000)
	ferryBinary(t)
	src := newCDCDB(t, "kbsrc")
	src.exec("CREATE TABLE bench (id INT PRIMARY KEY, name VARCHAR(64), n BIGINT, amount DECIMAL(12,2), ts DATETIME(6))")
	// One snapshot record, so that each connector commits a position
	// before it is paused (see TestCDCThroughput).
	src.exec("CREATE TABLE warm (id INT PRIMARY KEY)")
	src.exec("INSERT INTO warm VALUES (1)")
	topic := newKafkaTopic(t, "ferry-cdc-bench", 6)
	rmq := newRMQTopic(t, "ferry-cdc-kbench", 8)
	w := startWorker(t, filepath.Join(t.TempDir(), "data"), freeAddr(t))
	pid := w.cmd.Process.Pid
	sinks := []benchSink{
		{"cdc-drop", map[string]string{"sink": "drop"}},
		{"cdc-kafka", topic.sinkConfig()},
		{"cdc-rocketmq", rmq.sinkConfig()},
	}
	ack := func(c string) float64 { return w.metric("ferry_sink_task_sink_record_ack_total", c) }
	pauseAfterSnapshot(t, w, src, sinks)
	binlogFrom := src.binlogPos()
	changes := writeBenchLoad(src, rows)
	la := loadavg()
	cpu0 := cputime.Self()
	rawRate := rawBinlogRate(t, binlogFrom, changes)
	t.Logf("BENCH raw go-mysql read of the same %d changes (the ceiling): %.0f rows/s, %.2f cpu-s/Mrow (load avg %s)",
		changes, rawRate, (cputime.Self()-cpu0).Seconds()*1e6/float64(changes), la)

	for _, s := range sinks {
		before := ack(s.name)
		la := loadavg()
		stopPerf := startPerf(t, pid, s.name)
		cpu0, start := procCPU(t, pid), time.Now()
		if code, body := w.do("PUT", "/connectors/"+s.name+"/resume", nil); code != http.StatusAccepted {
			t.Fatalf("resume: HTTP %d %s", code, body)
		}
		w.waitFor(s.name, 5*time.Minute, s.name+" caught up", func() bool { return ack(s.name)-before >= float64(changes) })
		el, cpu := time.Since(start), procCPU(t, pid)-cpu0
		stopPerf()
		rate := float64(changes) / el.Seconds()
		t.Logf("BENCH streaming %-13s %7d changes in %7s = %7.0f rows/s, %3.0f%% of raw, %.2f cpu-s/Mrow (load avg %s before, %s after)",
			s.name, changes, el.Round(time.Millisecond), rate, 100*rate/rawRate, cpu.Seconds()*1e6/float64(changes), la, loadavg())
	}
	if got := topic.total(); got < int64(changes) {
		t.Errorf("the topic holds %d records, want at least %d", got, changes)
	}
}
