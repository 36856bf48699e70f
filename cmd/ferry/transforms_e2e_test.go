package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEndToEndWebhookFilterTemplate is issue 3's end-to-end case, on the
// real binary: an http (webhook) source → filter → template → file sink.
// A mix of matching and non-matching events arrives in the three request
// modes; the file must hold exactly the matching ones, reshaped; every
// request must be answered 2xx (the webhook answers only once the engine
// acknowledged the request's events, so a dropped event is acknowledged
// too); and the committed offset must move past the last, dropped event.
func TestEndToEndWebhookFilterTemplate(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "paid.jsonl")
	w := startWorker(t, filepath.Join(dir, "data"), freeAddr(t))
	hook := "http://" + freeAddr(t)
	hookAddr := strings.TrimPrefix(hook, "http://")

	const name = "hooks"
	code, body := w.do("POST", "/connectors", map[string]any{
		"name": name,
		"config": map[string]string{
			"source":                  "http",
			"source.listen":           hookAddr,
			"source.path":             "/events",
			"source.response.timeout": "15s",
			"transforms":              "paid,reshape",
			"transforms.paid.type":    "filter",
			// Paid orders only; status nests in data, amounts must be positive.
			"transforms.paid.pattern":     `{"data": {"status": ["PAID"], "total": [{"numeric": [">", 0]}]}}`,
			"transforms.reshape.type":     "template",
			"transforms.reshape.form":     "TEMPLATE",
			"transforms.reshape.value":    `{"id": "$.data.id", "total": "$.data.total", "from": "$.source"}`,
			"transforms.reshape.template": `{"order": "${id}", "amount": "${total}", "from": "${from}"}`,
			"sink":                        "file",
			"sink.path":                   out,
			"offset.flush.interval.ms":    "100",
		},
	})
	if code != http.StatusCreated {
		t.Fatalf("create: HTTP %d %s", code, body)
	}
	waitRunning(t, w, name)
	// RUNNING is reported before the source opens its listener.
	waitListening(t, hookAddr)

	client := &http.Client{Timeout: 30 * time.Second}
	send := func(what string, header map[string]string, payload string) {
		t.Helper()
		req, err := http.NewRequest("POST", hook+"/events", strings.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s: webhook answered %d %s; every event, dropped or not, must be acknowledged", what, resp.StatusCode, b)
		}
	}
	structured := map[string]string{"Content-Type": "application/cloudevents+json"}
	binary := func(id string) map[string]string {
		return map[string]string{"ce-specversion": "1.0", "ce-id": id, "ce-source": "/pos", "ce-type": "order.updated", "Content-Type": "application/json"}
	}
	plain := map[string]string{"Content-Type": "application/json"}

	// Sent one at a time, so the source numbers them in this order.
	send("structured, paid", structured, `{"specversion": "1.0", "id": "s-1", "source": "/shop", "type": "order.updated", "data": {"id": 1, "status": "PAID", "total": 12.5}}`)
	send("structured, new", structured, `{"specversion": "1.0", "id": "s-2", "source": "/shop", "type": "order.updated", "data": {"id": 2, "status": "NEW", "total": 3}}`)
	send("structured, paid but zero", structured, `{"specversion": "1.0", "id": "s-3", "source": "/shop", "type": "order.updated", "data": {"id": 3, "status": "PAID", "total": 0}}`)
	send("binary, paid", binary("b-1"), `{"id": 4, "status": "PAID", "total": 7}`)
	send("binary, cancelled", binary("b-2"), `{"id": 5, "status": "CANCELLED", "total": 7}`)
	send("binary, no data status", binary("b-3"), `{"id": 6}`)
	send("plain, paid", plain, `{"id": 7, "status": "PAID", "total": 99.99}`)
	send("plain, new", plain, `{"id": 8, "status": "NEW", "total": 1}`)
	send("plain, not an object", plain, `["PAID"]`)

	// Every answer came after the file sink wrote: the file is complete.
	got := readEvents(t, out)
	type want struct{ id, data string }
	wants := []want{
		{"s-1", `{"order":"1","amount":"12.5","from":"/shop"}`},
		{"b-1", `{"order":"4","amount":"7","from":"/pos"}`},
		{"", `{"order":"7","amount":"99.99","from":"/ferry/http/hooks"}`}, // plain: the id is the source's
	}
	if len(got) != len(wants) {
		t.Fatalf("file holds %d events, want the %d paid ones:\n%s", len(got), len(wants), dump(got))
	}
	for i, wt := range wants {
		ev := got[i]
		if wt.id != "" && ev.ID != wt.id {
			t.Errorf("event %d: id %q, want %q", i, ev.ID, wt.id)
		}
		var data bytes.Buffer
		if err := json.Compact(&data, ev.Data); err != nil || data.String() != wt.data {
			t.Errorf("event %d (%s): data %s, want %s", i, ev.ID, ev.Data, wt.data)
		}
		if ev.DataContentType != "application/json" {
			t.Errorf("event %d: datacontenttype %q", i, ev.DataContentType)
		}
	}
	plainID := got[2].ID

	// The plain paid event's id carries its position; the two plain events
	// after it were dropped, and the committed offset must reach the last.
	posText, ok := strings.CutPrefix(plainID, name+"-0-")
	if !ok {
		t.Fatalf("plain event id %q lacks the %s-0- prefix", plainID, name)
	}
	paidPos, err := strconv.ParseUint(posText, 10, 64)
	if err != nil {
		t.Fatalf("plain event id %q: %v", plainID, err)
	}
	lastPos := paidPos + 2
	deadline := time.Now().Add(20 * time.Second)
	var committed uint64
	for {
		committed = committedPosition(t, w, name)
		if committed >= lastPos {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed position %d after 20s; the last (dropped) event is at %d", committed, lastPos)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if committed != lastPos {
		t.Errorf("committed position %d, want exactly %d (the last event sent)", committed, lastPos)
	}
	t.Logf("9 requests answered 2xx, %d events written, offset committed at %d = last paid event %d + 2 dropped", len(got), committed, paidPos)
	if st, tasks := w.connectorState(name); st != "RUNNING" || len(tasks) != 1 || !strings.HasPrefix(tasks[0], "RUNNING") {
		t.Errorf("connector %s, tasks %v; want RUNNING", st, tasks)
	}
	// Nothing more arrives late.
	if again := readEvents(t, out); len(again) != len(wants) {
		t.Errorf("file grew to %d events after the commit:\n%s", len(again), dump(again))
	}
}

// waitRunning waits until the connector's single task runs.
func waitRunning(t *testing.T, w *proc, name string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, tasks := w.connectorState(name)
		if st == "RUNNING" && len(tasks) == 1 && strings.HasPrefix(tasks[0], "RUNNING") {
			return
		}
		if len(tasks) == 1 && strings.HasPrefix(tasks[0], "FAILED") {
			t.Fatalf("task failed: %v", tasks)
		}
		if time.Now().After(deadline) {
			t.Fatalf("connector %s not running after 20s: %s %v", name, st, tasks)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitListening waits until something accepts connections at addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens at %s after 20s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fileEvent is the part of a file sink line the test reads.
type fileEvent struct {
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

func readEvents(t *testing.T, path string) []fileEvent {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []fileEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev fileEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%s: line %q: %v", path, sc.Text(), err)
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func dump(evs []fileEvent) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s %s %s\n", e.ID, e.Source, e.Data)
	}
	return b.String()
}

// committedPosition reads the connector's committed position in the http
// source's partition (0 when none yet).
func committedPosition(t *testing.T, w *proc, name string) uint64 {
	t.Helper()
	code, body := w.do("GET", "/connectors/"+name+"/offsets", nil)
	if code != http.StatusOK {
		t.Fatalf("offsets: HTTP %d %s", code, body)
	}
	var offs struct {
		Offsets []struct {
			Partition map[string]string `json:"partition"`
			Offset    map[string]string `json:"offset"`
		} `json:"offsets"`
	}
	if err := json.Unmarshal(body, &offs); err != nil {
		t.Fatalf("offsets %s: %v", body, err)
	}
	for _, o := range offs.Offsets {
		if o.Partition["partition"] == "http" {
			p, err := strconv.ParseUint(o.Offset["position"], 10, 64)
			if err != nil {
				t.Fatalf("offsets %s: %v", body, err)
			}
			return p
		}
	}
	return 0
}
