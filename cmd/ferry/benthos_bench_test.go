package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFilePipelineVsBenthos runs the JSON-lines file source → filter (three
// conditions) + a four-field template → drop over structured 1 KB
// CloudEvents through the ferry binary, and the same pipeline in Benthos v4
// (a file input, one mapping processor, a drop output) on the same file, and
// reports each process's CPU seconds and peak RSS (docs/benchmarks.md,
// "Kafka (issue 12)"). It runs only when FERRY_E2E_BENTHOS names a Benthos
// binary built outside the repository (see benchmarks.md for how):
//
//	FERRY_E2E_BENTHOS=/tmp/benthos-core go test -run TestFilePipelineVsBenthos -v ./cmd/ferry/
//
// FERRY_E2E_BENTHOS_EVENTS (default 300000) sizes the file and
// FERRY_E2E_BENTHOS_ROUNDS (default 3) repeats both, alternating. Before
// timing, each runs once into a file and both outputs must hold the same
// number of records with the same four fields.
func TestFilePipelineVsBenthos(t *testing.T) {
	benthos := os.Getenv("FERRY_E2E_BENTHOS")
	if benthos == "" {
		t.Skip("set FERRY_E2E_BENTHOS to a Benthos v4 binary to compare with it")
	}
	events := envInt(t, "FERRY_E2E_BENTHOS_EVENTS", 300000)
	rounds := envInt(t, "FERRY_E2E_BENTHOS_ROUNDS", 3)
	full := ferryBinary(t)
	// Benthos here is a core build with only its io and pure components;
	// Ferry's like for like leaves out every optional connector.
	slim := ferryBinaryTagged(t, slimTags(t))
	dir := t.TempDir()
	in := filepath.Join(dir, "events.jsonl")
	want := writeBenchEvents(t, in, events)

	// Ferry's chain: the filter's three conditions, then a JSON template of
	// four fields; Benthos's mapping does the same in one Bloblang program.
	ferryConf := func(out string) map[string]string {
		c := map[string]string{
			"source": "file", "source.path": in,
			"transforms":                  "paid,reshape",
			"transforms.paid.type":        "filter",
			"transforms.paid.pattern":     `{"type": [{"prefix": "order."}], "data": {"status": ["PAID"], "amount": [{"numeric": [">", 100]}]}}`,
			"transforms.reshape.type":     "template",
			"transforms.reshape.form":     "TEMPLATE",
			"transforms.reshape.value":    `{"id": "$.data.orderId", "amount": "$.data.amount", "city": "$.data.buyer.address.city", "type": "$.type"}`,
			"transforms.reshape.template": `{"order": ${id}, "amount": ${amount}, "city": ${city}, "type": ${type}}`,
			"sink":                        "drop",
		}
		if out != "" {
			c["sink"], c["sink.path"] = "file", out
		}
		return c
	}
	benthosConf := func(out string) string {
		output := "drop: {}"
		if out != "" {
			output = fmt.Sprintf("file:\n    path: %s\n    codec: lines", out)
		}
		return fmt.Sprintf(`input:
  file:
    paths: [ %s ]
    scanner:
      lines: {}
pipeline:
  processors:
    - mapping: |
        root = if this.type.has_prefix("order.") && this.data.status == "PAID" && this.data.amount > 100 {
          {"order": this.data.orderId, "amount": this.data.amount, "city": this.data.buyer.address.city, "type": this.type}
        } else { deleted() }
output:
  %s
logger:
  level: WARN
`, in, output)
	}

	// Both produce the same records first.
	ferryOut, benthosOut := filepath.Join(dir, "ferry.jsonl"), filepath.Join(dir, "benthos.jsonl")
	runFerryFile(t, full, ferryConf(ferryOut))
	runBenthos(t, benthos, filepath.Join(dir, "check.yaml"), benthosConf(benthosOut))
	nf, nb := countOrders(t, ferryOut, true), countOrders(t, benthosOut, false)
	if nf != want || nb != want {
		t.Fatalf("records passing the filter: ferry %d, benthos %d, want %d", nf, nb, want)
	}
	t.Logf("%d events (%d MB), %d pass the filter in both", events, fileMB(t, in), want)

	yaml := filepath.Join(dir, "drop.yaml")
	for r := 1; r <= rounds; r++ {
		la := loadavg()
		f := runFerryFile(t, full, ferryConf(""))
		t.Logf("BENCH round %d ferry   file → filter + template → drop: %s (load avg %s before, %s after)", r, f, la, loadavg())
		la = loadavg()
		f = runFerryFile(t, slim, ferryConf(""))
		t.Logf("BENCH round %d ferry (built with -tags %q): %s (load avg %s before, %s after)", r, slimTags(t), f, la, loadavg())
		la = loadavg()
		b := runBenthos(t, benthos, yaml, benthosConf(""))
		t.Logf("BENCH round %d benthos file → mapping → drop:           %s (load avg %s before, %s after)", r, b, la, loadavg())
	}
}

// processFigure is one whole process run: wall time, CPU and peak RSS.
type processFigure struct {
	wall, cpu             time.Duration
	rssMB, anonMB, fileMB float64 // peak RSS (VmHWM), and the sampled peaks of its anonymous and file-backed parts
}

func (f processFigure) String() string {
	return fmt.Sprintf("wall %6s, cpu %5.2f s, peak RSS %5.1f MB (anon %5.1f, file %5.1f)", f.wall.Round(time.Millisecond), f.cpu.Seconds(), f.rssMB, f.anonMB, f.fileMB)
}

// runFerryFile starts a fresh standalone worker, creates the connector,
// waits for its file source to finish and returns the whole process's
// figures from its start (the wall time from the connector's creation).
func runFerryFile(t *testing.T, bin string, conf map[string]string) processFigure {
	t.Helper()
	w := startStandalone(t, bin)
	rss := sampleRSS(w.cmd.Process.Pid)
	start := time.Now()
	w.createConnector("file", conf)
	deadline := start.Add(5 * time.Minute)
	for {
		_, tasks := w.connectorState("file")
		if len(tasks) == 1 && strings.HasPrefix(tasks[0], "FINISHED") {
			break
		}
		if len(tasks) == 1 && strings.HasPrefix(tasks[0], "FAILED") || time.Now().After(deadline) {
			t.Fatalf("file connector: %v", tasks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	f := processFigure{wall: time.Since(start), cpu: procCPU(t, w.cmd.Process.Pid), rssMB: float64(procStatusKB(t, w.cmd.Process.Pid, "VmHWM:")) / 1024}
	rss.Stop()
	f.anonMB, f.fileMB = rss.Parts()
	w.kill()
	return f
}

// runBenthos runs benthos with config until it exits (its file input ends):
// its CPU from the kernel's accounting of the exited process, its peak RSS
// and that's parts sampled while it ran. (The exited child's ru_maxrss is
// no use here: a child forked by the Go runtime shares the test process's
// memory until it execs, and ru_maxrss keeps that.)
func runBenthos(t *testing.T, bin, path, config string) processFigure {
	t.Helper()
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-c", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rss := sampleRSS(cmd.Process.Pid)
	err := cmd.Wait()
	wall := time.Since(start)
	if err != nil {
		t.Fatalf("benthos: %v\n%s", err, tail(out.String(), 3000))
	}
	ps := cmd.ProcessState
	f := processFigure{wall: wall, cpu: ps.UserTime() + ps.SystemTime(), rssMB: rss.Stop()}
	f.anonMB, f.fileMB = rss.Parts()
	return f
}

// writeBenchEvents writes n structured 1 KB CloudEvents, one a line, and
// returns how many of them the filter passes (type order.paid or
// order.created, status PAID, amount above 100).
func writeBenchEvents(t *testing.T, path string, n int) (pass int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	cities := []string{"Hangzhou", "Beijing", "Shanghai", "Shenzhen"}
	note := strings.Repeat("lorem ipsum dolor sit amet ", 22)
	for i := range n {
		typ := []string{"order.paid", "order.created", "refund.paid"}[i%3]
		status := []string{"PAID", "NEW"}[i/3%2]
		amount := fmt.Sprintf("%d.%02d", i%250, i%100)
		if typ != "refund.paid" && status == "PAID" && (i%250 > 100 || i%250 == 100 && i%100 > 0) {
			pass++
		}
		fmt.Fprintf(w, `{"specversion":"1.0","id":"evt-%d","source":"/shop/orders/%d","type":%q,"subject":"orders/%d","time":"2026-01-01T00:00:%02dZ","datacontenttype":"application/json","tenant":"t-%d","data":{"orderId":"o-%d","status":%q,"amount":%s,"currency":"CNY","buyer":{"id":%d,"name":"buyer %d","address":{"city":%q,"street":"%d Long Street","zip":"%06d"}},"items":[{"sku":"sku-%d","qty":%d,"price":12.5},{"sku":"sku-%d","qty":1,"price":99}],"note":%q}}`+"\n",
			i, i%16, typ, i, i%60, i%7, i, status, amount, i%100000, i, cities[i%4], i%999, i%1000000, i%5000, 1+i%5, (i+7)%5000, note)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return pass
}

// countOrders counts the reshaped records of an output file, checking each
// has the template's four fields (in ferry's output, as the data of a
// CloudEvent).
func countOrders(t *testing.T, path string, cloudEvent bool) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var rec struct {
			Order  string  `json:"order"`
			Amount float64 `json:"amount"`
			City   string  `json:"city"`
			Type   string  `json:"type"`
		}
		target := any(&rec)
		if cloudEvent {
			target = &struct {
				Data any `json:"data"`
			}{Data: &rec}
		}
		if err := json.Unmarshal([]byte(line), target); err != nil || rec.Order == "" || rec.City == "" || rec.Amount <= 100 || !strings.HasPrefix(rec.Type, "order.") {
			t.Fatalf("%s: record %q: %v", path, tail(line, 300), err)
		}
		n++
	}
	return n
}

func fileMB(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size() >> 20
}
