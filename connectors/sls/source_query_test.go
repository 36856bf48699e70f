package sls_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ferryhq/ferry/api"
	emu "github.com/ferryhq/ferry/internal/emulator/sls"
	"github.com/ferryhq/ferry/internal/emulator/sls/slstest"
)

// TestSourceQuery: with source.query SLS filters and projects on each
// pull (the emulator runs SPL's where and project): exactly the matching
// logs arrive, with only the projected keys, and a restart from a
// committed position mid-answer loses and repeats none. A private
// emulator: the test bed's process may predate queries.
func TestSourceQuery(t *testing.T) {
	t.Parallel()
	b, _ := privateSLS(t, emu.Config{})
	proj := slstest.Name("ferry-src-query")
	b.Store(t, proj, "logs", 2)
	cli := b.Client()
	for i := 0; i < 200; i += 10 {
		g := &aliyun.LogGroup{Topic: proto.String("q")}
		for n := i; n < i+10; n++ {
			level := "info"
			if isError(n) {
				level = "error"
			}
			g.Logs = append(g.Logs, &aliyun.Log{Time: proto.Uint32(uint32(time.Now().Unix())), Contents: []*aliyun.LogContent{
				{Key: proto.String("n"), Value: proto.String(strconv.Itoa(n))},
				{Key: proto.String("level"), Value: proto.String(level)},
				{Key: proto.String("body"), Value: proto.String("log " + strconv.Itoa(n))},
			}})
		}
		if err := cli.PutLogs(proj, "logs", g); err != nil {
			t.Fatal(err)
		}
	}
	want := 0
	for n := 0; n < 200; n++ {
		if isError(n) {
			want++
		}
	}
	cfg := b.sourceConfig(proj, "logs", "query", "* | where level = 'error' | project n, level", "batch.size", "7", "fetch.count", "3")

	seen := map[string]int{}
	check := func(recs []api.Record) {
		for _, r := range recs {
			var d map[string]any
			if err := json.Unmarshal(r.Event.Data, &d); err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.Atoi(d["n"].(string))
			if d["level"] != "error" || !isError(n) {
				t.Fatalf("log %v passed the query", d)
			}
			if _, ok := d["body"]; ok {
				t.Fatalf("log %v kept a key the query projected away", d)
			}
			seen[d["n"].(string)]++
		}
	}
	// First run: read about half, then stop with the last record's
	// position of each shard committed (everything read is committed).
	src := openSrc(t, cfg, nil)
	first := readSrc(t, src, want/2)
	check(first)
	committed := map[string]api.Position{}
	for _, r := range first {
		committed[r.Partition] = r.Position
	}
	_ = src.Close(context.Background())
	src2 := openSrc(t, cfg, committed)
	check(readSrc(t, src2, want-len(first)))
	if len(seen) != want {
		t.Fatalf("read %d distinct error logs across the restart, want %d", len(seen), want)
	}
	for n, c := range seen {
		if c != 1 {
			t.Errorf("log %s read %d times", n, c)
		}
	}
}

// isError: every third log, but none of the group of 100…109, which the
// query then leaves empty (SLS does not return it: the answer's cursors are
// no longer consecutive).
func isError(n int) bool { return n%3 == 0 && (n < 100 || n >= 110) }

// TestSourceQueryRefused: a query SLS cannot run fails the task at the
// first pull, fatal, naming source.query; one that is not an SPL statement
// is refused by validation.
func TestSourceQueryRefused(t *testing.T) {
	t.Parallel()
	b, _ := privateSLS(t, emu.Config{})
	proj := slstest.Name("ferry-src-query-bad")
	b.Store(t, proj, "logs", 1)
	b.putSeq(t, b.Client(), proj, "logs", 0, 5, 5)
	src := openSrc(t, b.sourceConfig(proj, "logs", "query", "* | stats count(*) by level"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err error
	for err == nil {
		_, err = src.Read(ctx)
	}
	if !api.IsFatal(err) || !strings.Contains(err.Error(), "source.query") || !strings.Contains(err.Error(), "ParameterInvalid") {
		t.Fatalf("Read = %v (fatal %v); want fatal naming source.query", err, api.IsFatal(err))
	}

	for _, q := range []string{"level = 'error'", strings.Repeat("*", 5000)} {
		_, err := newSLSSource(b.sourceConfig(proj, "logs", "query", q), 0, 1, nil)
		var ve *api.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "query" {
			t.Errorf("query %.20q: got %v, want a validation error naming query", q, err)
		}
	}
}
