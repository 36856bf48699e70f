package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// lineCount counts the lines of a file as it grows, reading only what was
// appended since the last call (a file sink's output of 500,000 events is
// hundreds of megabytes).
type lineCount struct {
	t     *testing.T
	path  string
	read  int64
	lines int64
}

func (c *lineCount) count() int64 {
	c.t.Helper()
	f, err := os.Open(c.path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(c.read, io.SeekStart); err != nil {
		c.t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		c.read += int64(n)
		c.lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		if err == io.EOF {
			return c.lines
		}
		if err != nil {
			c.t.Fatal(err)
		}
	}
}

// fileCheck reads the file sink's output of runRMQKill's input: every line
// a structured CloudEvent whose data is the message body, with the tag and
// the user property region as the extensions rocketmqtag and region, and
// per key the seqs in order in the file apart from replays (keyOrder; both
// tasks append to the one file, and a key's messages come from one queue,
// so from one task). A SIGKILL may tear the last line a task was writing:
// at most one malformed line per task is allowed.
func fileCheck(t *testing.T, path string, tasks int, perKey []int) (read, replays int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	order := newKeyOrder(t, perKey)
	torn, line := 0, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line++
		var ev struct {
			Data        json.RawMessage `json:"data"`
			RocketMQTag string          `json:"rocketmqtag"`
			Region      string          `json:"region"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			torn++
			continue
		}
		read++
		key, seq, err := parseR2R(ev.Data, len(perKey))
		if err != nil {
			order.fail("line %d: data %.80q: %v", line, ev.Data, err)
			continue
		}
		if string(ev.Data) != r2rBody(key, seq) {
			order.fail("line %d: data %.80q, want %.80q", line, ev.Data, r2rBody(key, seq))
		}
		if ev.RocketMQTag != r2rTag(seq) || ev.Region != r2rRegion(key) {
			order.fail("line %d: key-%d seq %d: rocketmqtag %q region %q, want %q %q", line, key, seq, ev.RocketMQTag, ev.Region, r2rTag(seq), r2rRegion(key))
		}
		order.see(key, seq, fmt.Sprintf("line %d", line))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if torn > tasks {
		t.Errorf("%d malformed lines; at most %d torn lines (one per task) are expected from a kill", torn, tasks)
	}
	return read, order.done()
}

// TestRocketMQToFileKill runs RocketMQ → Ferry → file (runRMQKill): 2
// tasks append the 8 queues' messages to one JSON Lines file, and the
// worker is SIGKILLed mid-stream. Every message must be in the file with
// its body, tag and user property, each key's messages in order apart
// from replays, which are counted and reported as duplicates.
func TestRocketMQToFileKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out", "events.jsonl")
	lines := &lineCount{t: t, path: path}
	const tasks = 2
	runRMQKill(t, rmqKill{
		name: "r2f", tasks: tasks, out: path, count: lines.count,
		sink:  map[string]string{"sink": "file", "sink.path": path},
		check: func(perKey []int) (int, int) { return fileCheck(t, path, tasks, perKey) },
	})
}
