package sls_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/sls"
	emu "github.com/ferryhq/ferry/internal/emulator/sls"
	"github.com/ferryhq/ferry/internal/emulator/sls/slstest"
)

// TestSourceConformance runs the kit against the test bed's emulator: 4
// shards of seeded logs, read as a bounded backfill (stop.time), so the
// source ends with end of input. Not parallel: the kit's goroutine check
// sees the whole binary.
func TestSourceConformance(t *testing.T) {
	b := testbedSLS(t)
	proj := slstest.Name("ferry-src-conf")
	b.Store(t, proj, "logs", 4)
	b.putSeq(t, b.Client(), proj, "logs", 0, 120, 7)
	stop := time.Now().Unix() + 1
	time.Sleep(time.Until(time.Unix(stop, 0).Add(2100 * time.Millisecond))) // stop.time has passed
	apitest.RunSource(t, apitest.SourceCase{
		Plugin: sls.Source,
		Config: b.sourceConfig(proj, "logs", "stop.time", strconv.FormatInt(stop, 10),
			"batch.size", "9", "fetch.count", "3"),
		Expect:     120,
		EndOfInput: true,
	})
}

// logCount is the size of the end-to-end runs: CI-sized by default,
// FERRY_E2E_SLS_LOGS=500000 for the figure.
func logCount(t testing.TB) int {
	if v := os.Getenv("FERRY_E2E_SLS_LOGS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			t.Fatalf("FERRY_E2E_SLS_LOGS=%q: want a number of logs of at least 100", v)
		}
		return n
	}
	return 20000
}

// TestSourceEveryLogAcrossRestart: 4 shards, two tasks in the engine,
// reading small batches; they are killed halfway (restarted from the
// offset store as a commit mid-run left it, not from their final commit)
// while more logs arrive, and every log arrives at least once.
func TestSourceEveryLogAcrossRestart(t *testing.T) {
	t.Parallel()
	b := testbedSLS(t)
	proj := slstest.Name("ferry-src-restart")
	b.Store(t, proj, "logs", 4)
	n := logCount(t)
	cli := b.Client()
	b.putSeq(t, cli, proj, "logs", 0, n/2, 100)
	group := "restart-" + strconv.Itoa(int(time.Now().UnixNano()%1e6))
	raw := b.sourceConfig(proj, "logs", "consumer.group", group, "checkpoint.interval", "200ms",
		"batch.size", "37", "fetch.count", "3")
	store := &offsets{}
	sink := newSeqSink()
	sink.delay = 2 * time.Millisecond
	runs := []*srcRun{startSrc(t, raw, 0, 2, store, sink), startSrc(t, raw, 1, 2, store, sink)}
	var killed map[string]api.Position
	for len(killed) < 4 { // a commit has covered every shard
		killed = store.snapshot()
		time.Sleep(20 * time.Millisecond)
	}
	for _, r := range runs {
		r.stop(t)
	}
	before := sink.distinct()
	inside := 0
	for _, p := range killed {
		if strings.Contains(string(p), "@") {
			inside++
		}
	}
	t.Logf("killed at a commit with %d of 4 positions inside a log group; %d of %d logs had been read", inside, before, n/2)
	store = &offsets{m: killed}
	sink.delay = 0
	runs = []*srcRun{startSrc(t, raw, 0, 2, store, sink), startSrc(t, raw, 1, 2, store, sink)}
	b.putSeq(t, cli, proj, "logs", n/2, n-n/2, 100) // while the tasks read
	sink.waitDistinct(t, n, 120*time.Second)
	if miss := sink.missing(n); len(miss) > 0 || len(sink.bad) > 0 {
		t.Fatalf("missing logs %v, bad records %v", miss, sink.bad)
	}
	if before >= n/2 {
		t.Logf("the first run had read everything before the kill; the restart only re-read")
	}
	// The checkpoints catch up with the ends (the last commit is written
	// at the latest when the tasks stop).
	ends := b.endCursors(t, proj, "logs")
	deadline := time.Now().Add(20 * time.Second)
	var cps map[int]string
	for {
		if cps = b.checkpoints(t, proj, "logs", group); len(cps) == 4 && equalMaps(cps, ends) {
			break
		}
		if time.Now().After(deadline) {
			for _, r := range runs {
				r.stop(t)
			}
			if cps = b.checkpoints(t, proj, "logs", group); !equalMaps(cps, ends) {
				t.Fatalf("checkpoints %v, want the shards' ends %v", cps, ends)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d logs, %d written (%d again after the restart)", n, sink.total, sink.total-n)
}

func equalMaps[K, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// TestSourceSplitPickedUp: a shard split while the source runs is read to
// its end and let go with its checkpoint at that end, and the two new
// shards are read, with no restart. A private emulator: the test bed's
// may be older than split support.
func TestSourceSplitPickedUp(t *testing.T) {
	t.Parallel()
	b, _ := privateSLS(t, emu.Config{})
	proj := slstest.Name("ferry-src-split")
	b.Store(t, proj, "logs", 2)
	cli := b.Client()
	b.putSeq(t, cli, proj, "logs", 0, 400, 10)
	group := "split"
	store := &offsets{}
	sink := newSeqSink()
	startSrc(t, b.sourceConfig(proj, "logs", "consumer.group", group, "checkpoint.interval", "100ms"), 0, 1, store, sink)
	sink.waitDistinct(t, 400, 30*time.Second)
	if _, err := cli.SplitShard(proj, "logs", 0, "4"); err != nil {
		t.Fatal(err)
	}
	b.putSeq(t, cli, proj, "logs", 400, 600, 10) // into shards 1, 2 and 3
	sink.waitDistinct(t, 1000, 30*time.Second)
	if miss := sink.missing(1000); len(miss) > 0 {
		t.Fatalf("missing %v", miss)
	}
	for _, id := range []int{2, 3} {
		if groups, _ := b.readShard(t, proj, "logs", id); groups == 0 {
			t.Fatalf("nothing was written to new shard %d: the test proves nothing", id)
		}
	}
	// Shard 0's checkpoint is its end once it is released; the new ones
	// get checkpoints as their logs are committed.
	end0 := b.endCursors(t, proj, "logs")[0]
	deadline := time.Now().Add(10 * time.Second)
	for {
		cps := b.checkpoints(t, proj, "logs", group)
		if cps[0] == end0 && cps[2] != "" && cps[3] != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoints %v: want shard 0 at its end %s and shards 2 and 3 set", cps, end0)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readShard counts a shard's log groups with the SDK.
func (b bed) readShard(t testing.TB, project, logstore string, shard int) (groups int, logs int) {
	t.Helper()
	cli := b.Client()
	cursor, err := cli.GetCursor(project, logstore, shard, "begin")
	if err != nil {
		t.Fatal(err)
	}
	for {
		gl, next, err := cli.PullLogs(project, logstore, shard, cursor, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gl.LogGroups {
			groups++
			logs += len(g.Logs)
		}
		if next == cursor || len(gl.LogGroups) == 0 {
			return groups, logs
		}
		cursor = next
	}
}

// TestSourceStopTimeFinishes: with stop.time, the task reads the log
// groups received before it and ends (the engine's end of input, which the
// worker shows as FINISHED); groups received later are not read. The
// emulator's clock is set back to receive the logs in the past.
func TestSourceStopTimeFinishes(t *testing.T) {
	t.Parallel()
	var clock atomicTime
	clock.set(time.Now().Add(-time.Hour))
	b, _ := privateSLS(t, emu.Config{Now: clock.now, MaxClockSkew: -1})
	proj := slstest.Name("ferry-src-stop")
	b.Store(t, proj, "logs", 4)
	cli := b.Client()
	b.putSeq(t, cli, proj, "logs", 0, 300, 10)
	stop := clock.now().Add(10 * time.Minute).Unix()
	clock.set(time.Now().Add(-30 * time.Minute)) // after stop.time
	b.putSeq(t, cli, proj, "logs", 300, 100, 10)

	store := &offsets{}
	sink := newSeqSink()
	r := startSrc(t, b.sourceConfig(proj, "logs", "stop.time", strconv.FormatInt(stop, 10)), 0, 1, store, sink)
	select {
	case err := <-r.done:
		r.cancel()
		r.cancel = nil
		if err != nil {
			t.Fatalf("task ended with %v, want nil (end of input)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("task did not finish; sink saw %d logs", sink.distinct())
	}
	if got := sink.distinct(); got != 300 || len(sink.missing(300)) > 0 {
		t.Fatalf("read %d distinct logs (missing %v), want exactly the 300 before stop.time", got, sink.missing(300))
	}
	// Every shard's position was committed at stop.time's cursor.
	if got := len(store.snapshot()); got != 4 {
		t.Errorf("positions for %d shards, want 4", got)
	}
}

// TestSourceEventShape: the event EventBridge would publish for a log,
// with tags, nanoseconds and keys that need escaping (golden file).
func TestSourceEventShape(t *testing.T) {
	t.Parallel()
	b, srv := privateSLS(t, emu.Config{ShardCount: 1, Now: func() time.Time { return time.Unix(1700000000, 0) }, MaxClockSkew: -1})
	g := emu.LogGroup{Topic: "orders", Source: "10.1.2.3", Tags: []emu.Pair{{Key: "__pack_id__", Value: "59B662B2257796A1-0"}, {Key: "__client_ip__", Value: "10.1.2.3"}, {Key: "k", Value: "tag loses to the log's key"}},
		Logs: []emu.Log{
			{Time: 1700000001, TimeNs: 123456789, Contents: []emu.Pair{{Key: "k", Value: "v \"quoted\" <&> 中文"}, {Key: "__time__", Value: "forged"}, {Key: "n", Value: "1"}}},
			{Time: 1700000002, Contents: []emu.Pair{{Key: "n", Value: "2"}}},
		}}
	if err := srv.Put("proj-golden", "logs", 0, g); err != nil {
		t.Fatal(err)
	}
	src := openSrc(t, b.sourceConfig("proj-golden", "logs", "account.id", "1234567890", "region", "cn-hangzhou"), nil)
	recs := readSrc(t, src, 2)
	var out []byte
	for _, r := range recs {
		j, err := r.Event.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, j...)
		out = append(out, '\n')
		out = append(out, r.Partition+" "+string(r.Position)+"\n"...)
	}
	golden := filepath.Join("testdata", "source-event.golden")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(out) != string(want) {
		t.Fatalf("events differ from %s:\n%s\nwant:\n%s", golden, out, want)
	}
}

func openSrc(t testing.TB, raw map[string]string, committed map[string]api.Position) api.Source {
	t.Helper()
	src, err := newSLSSource(raw, 0, 1, committed)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := src.Open(ctx); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	return src
}

func readSrc(t testing.TB, src api.Source, n int) []api.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []api.Record
	for len(out) < n {
		recs, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("read after %d records: %v", len(out), err)
		}
		out = append(out, recs...)
	}
	return out
}

// TestSourceBadInput: what a user gets wrong is named; what retrying
// cannot fix fails the task.
func TestSourceBadInput(t *testing.T) {
	t.Parallel()
	b, _ := privateSLS(t, emu.Config{RequireCreate: true})
	proj := slstest.Name("ferry-src-bad")
	b.Store(t, proj, "logs", 1)
	for _, tc := range []struct {
		name      string
		kv        []string
		fatal     bool
		wantInErr []string
	}{
		{"wrong endpoint", []string{"connect.address", "127.0.0.1:1", "request.timeout", "1s"}, false, []string{"endpoint unreachable"}},
		{"bad signature", []string{"access.key.secret", "wrong"}, true, []string{"access.key.secret does not match", "SignatureNotMatch"}},
		{"bad signature v4", []string{"access.key.secret", "wrong", "signature.version", "v4", "region", "cn-hangzhou"}, true, []string{"access.key.secret does not match", "SignatureNotMatch"}},
		{"unknown key id", []string{"access.key.id", "nobody"}, true, []string{"access.key.id"}},
		{"missing logstore", []string{"logstore", "nosuch"}, true, []string{"source.logstore", "LogStoreNotExist"}},
		{"missing project", []string{"project", "ferry-src-no-such-project"}, true, []string{"source.project", "ProjectNotExist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, err := newSLSSource(b.sourceConfig(proj, "logs", tc.kv...), 0, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = src.Open(ctx)
			if err == nil {
				_ = src.Close(ctx)
				t.Fatal("Open succeeded")
			}
			if api.IsFatal(err) != tc.fatal {
				t.Errorf("Open = %v: fatal %v, want %v", err, api.IsFatal(err), tc.fatal)
			}
			for _, w := range tc.wantInErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open = %v, want it to say %q", err, w)
				}
			}
		})
	}
	t.Run("corrupt stored position", func(t *testing.T) {
		t.Parallel()
		_, err := newSLSSource(b.sourceConfig(proj, "logs"), 0, 1, map[string]api.Position{proj + "/logs/0": api.Position("bad cursor")})
		if !api.IsFatal(err) || !strings.Contains(err.Error(), "shard 0") {
			t.Fatalf("New = %v, want a fatal error naming the shard", err)
		}
	})
	t.Run("position past the end", func(t *testing.T) {
		t.Parallel()
		src := openSrc(t, b.sourceConfig(proj, "logs"), map[string]api.Position{proj + "/logs/0": api.Position("OTk5OQ==")}) // 9999
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := src.Read(ctx)
		if !api.IsFatal(err) || !strings.Contains(err.Error(), "reset the connector's offsets") {
			t.Fatalf("Read = %v, want a fatal error saying to reset the offsets", err)
		}
	})
}

// TestSourceConfig: hostile and conflicting settings are refused, naming
// the field (the worker answers 400 with it).
func TestSourceConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{"endpoint": "cn-hangzhou.log.aliyuncs.com", "access.key.id": "id", "access.key.secret": "s", "project": "proj", "logstore": "logs"}
	for _, tc := range []struct {
		name string
		kv   map[string]string
		want string // field; "" valid
	}{
		{"minimal", nil, ""},
		{"full", map[string]string{"consumer.group": "g-1", "start": "time:1700000000", "stop.time": "1700000100", "account.id": "123", "fetch.count": "10", "fetch.max.bytes": "1048576"}, ""},
		{"end start", map[string]string{"start": "end"}, ""},
		{"missing project", map[string]string{"project": ""}, "project"},
		{"bad project", map[string]string{"project": "Proj!"}, "project"},
		{"long logstore", map[string]string{"logstore": strings.Repeat("l", 64)}, "logstore"},
		{"bad group", map[string]string{"consumer.group": "a b"}, "consumer.group"},
		{"long group", map[string]string{"consumer.group": strings.Repeat("g", 129)}, "consumer.group"},
		{"unknown start", map[string]string{"start": "earliest"}, "start"},
		{"negative start time", map[string]string{"start": "time:-1"}, "start"},
		{"far start time", map[string]string{"start": "time:99999999999999999999"}, "start"},
		{"start time in ms", map[string]string{"start": "time:1700000000000"}, "start"},
		{"stop before start", map[string]string{"start": "time:1700000100", "stop.time": "1700000000"}, "stop.time"},
		{"zero stop", map[string]string{"stop.time": "0"}, "stop.time"},
		{"far stop", map[string]string{"stop.time": "99999999999"}, "stop.time"},
		{"text stop", map[string]string{"stop.time": "tomorrow"}, "stop.time"},
		{"bad account", map[string]string{"account.id": "12ab"}, "account.id"},
		{"zero fetch count", map[string]string{"fetch.count": "0"}, "fetch.count"},
		{"huge fetch count", map[string]string{"fetch.count": "1001"}, "fetch.count"},
		{"tiny fetch bytes", map[string]string{"fetch.max.bytes": "10"}, "fetch.max.bytes"},
		{"huge fetch bytes", map[string]string{"fetch.max.bytes": "1099511627776"}, "fetch.max.bytes"},
		{"zero batch", map[string]string{"batch.size": "0"}, "batch.size"},
		{"fast refresh", map[string]string{"shard.refresh.interval": "1ms"}, "shard.refresh.interval"},
		{"slow checkpoints", map[string]string{"checkpoint.interval": "48h"}, "checkpoint.interval"},
		{"busy idle", map[string]string{"fetch.idle.interval": "1ns"}, "fetch.idle.interval"},
		{"endpoint with path", map[string]string{"endpoint": "http://h/x"}, "endpoint"},
		{"v4 without region", map[string]string{"signature.version": "v4"}, "region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := map[string]string{}
			for k, v := range base {
				raw[k] = v
			}
			for k, v := range tc.kv {
				raw[k] = v
			}
			c, err := sls.Source.Spec.Parse(raw)
			if err == nil {
				err = sls.Source.Validate(c)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ve *api.ValidationError
			if !errors.As(err, &ve) || !slices.ContainsFunc(ve.Fields, func(f api.FieldError) bool { return f.Field == tc.want }) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestSourceSpecDoc(t *testing.T) {
	t.Parallel()
	apitest.CheckSpecDoc(t, "source.go", sls.Source.Spec)
}
