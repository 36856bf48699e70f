package sls_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/sls"
	emu "github.com/ferryhq/ferry/internal/emulator/sls"
	"github.com/ferryhq/ferry/internal/emulator/sls/slstest"
	"github.com/ferryhq/ferry/runtime"
)

// privateSLS starts an emulator of this package's own for one test: for
// what the shared one cannot do (a clock set back, creation required).
func privateSLS(t testing.TB, cfg emu.Config) (bed, *emu.Server) {
	t.Helper()
	b, srv := slstest.Private(t, cfg)
	return bed{b}, srv
}

// putSeq writes logs n = from … from+count-1 in groups of per logs,
// shards taking turns, each log {"n": "<n>", "body": …}.
func (b bed) putSeq(t testing.TB, cli *aliyun.Client, project, logstore string, from, count, per int) {
	t.Helper()
	for i := from; i < from+count; i += per {
		g := &aliyun.LogGroup{Topic: proto.String("seq"), Source: proto.String("10.0.0.1")}
		for n := i; n < min(i+per, from+count); n++ {
			g.Logs = append(g.Logs, &aliyun.Log{Time: proto.Uint32(uint32(time.Now().Unix())), Contents: []*aliyun.LogContent{
				{Key: proto.String("n"), Value: proto.String(strconv.Itoa(n))},
				{Key: proto.String("body"), Value: proto.String("log line number " + strconv.Itoa(n) + " with some text")},
			}})
		}
		if err := cli.PutLogs(project, logstore, g); err != nil {
			t.Fatalf("put logs: %v", err)
		}
	}
}

// sourceConfig is the source's settings for b.
func (b bed) sourceConfig(project, logstore string, kv ...string) map[string]string {
	m := b.config(project, logstore, "start", "begin", "shard.refresh.interval", "1s", "fetch.idle.interval", "50ms")
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func newSLSSource(raw map[string]string, task, tasks int, committed map[string]api.Position) (api.Source, error) {
	c, err := sls.Source.Spec.Parse(raw)
	if err != nil {
		return nil, err
	}
	if err := sls.Source.Validate(c); err != nil {
		return nil, err
	}
	return sls.Source.New(api.TaskConfig{Connector: "sls-src-test", Task: task, Tasks: tasks, Config: c,
		Committed: committed, Logger: slog.New(slog.DiscardHandler)})
}

// srcRun is an sls source running in the engine into a sink that keeps
// each log's n, committing into an in-memory offset store.
type srcRun struct {
	task   *runtime.Task
	sink   *seqSink
	cancel context.CancelFunc
	done   chan error
}

// offsets is an in-memory offset store.
type offsets struct {
	mu sync.Mutex
	m  map[string]api.Position
}

func (o *offsets) Commit(p map[string]api.Position) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]api.Position{}
	}
	for k, v := range p {
		o.m[k] = append(api.Position(nil), v...)
	}
	return nil
}

func (o *offsets) snapshot() map[string]api.Position {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.m)
}

func startSrc(t testing.TB, raw map[string]string, task, tasks int, store *offsets, sink *seqSink) *srcRun {
	t.Helper()
	src, err := newSLSSource(raw, task, tasks, store.snapshot())
	if err != nil {
		t.Fatal(err)
	}
	task2, err := runtime.New(runtime.Config{
		Connector: "sls-src-test", Source: src, Sink: sink,
		Committer:      runtime.CommitFunc(store.Commit),
		CommitInterval: 100 * time.Millisecond,
		StopTimeout:    20 * time.Second,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &srcRun{task: task2, sink: sink, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- task2.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *srcRun) stop(t testing.TB) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil {
		t.Errorf("task: %v", err)
	}
}

// seqSink keeps how often each log's n was written.
type seqSink struct {
	mu    sync.Mutex
	seen  map[int]int
	total int
	bad   []string
	delay time.Duration // per Write: a slow sink
}

func newSeqSink() *seqSink { return &seqSink{seen: map[int]int{}} }

func (s *seqSink) Open(context.Context) error { return nil }
func (s *seqSink) Write(_ context.Context, recs []api.Record) error {
	time.Sleep(s.delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		n, err := nOf(r.Event.Data)
		if err != nil {
			s.bad = append(s.bad, fmt.Sprintf("%s: %v", r.Event.ID, err))
			continue
		}
		s.seen[n]++
		s.total++
	}
	return nil
}
func (s *seqSink) Close(context.Context) error { return nil }

func (s *seqSink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// waitDistinct waits until the sink has seen n distinct logs.
func (s *seqSink) waitDistinct(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for s.distinct() < n {
		if time.Now().After(deadline) {
			t.Fatalf("sink saw %d distinct logs, want %d", s.distinct(), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// missing lists the n in [0, count) the sink never saw (at most 10).
func (s *seqSink) missing(count int) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for n := range count {
		if s.seen[n] == 0 {
			out = append(out, n)
			if len(out) == 10 {
				break
			}
		}
	}
	return out
}

// nOf reads "n" from event data without a JSON library's allocations
// mattering: tests only.
func nOf(data []byte) (int, error) {
	const key = `{"n":"`
	if len(data) < len(key) || string(data[:len(key)]) != key {
		return 0, fmt.Errorf("data %.40q does not start with n", data)
	}
	rest := data[len(key):]
	i := 0
	for i < len(rest) && rest[i] != '"' {
		i++
	}
	return strconv.Atoi(string(rest[:i]))
}

// checkpoints reads the consumer group's checkpoints with the SDK.
func (b bed) checkpoints(t testing.TB, project, logstore, group string) map[int]string {
	t.Helper()
	cps, err := b.Client().GetCheckpoint(project, logstore, group)
	if err != nil {
		t.Fatalf("get checkpoints: %v", err)
	}
	out := map[int]string{}
	for _, cp := range cps {
		out[cp.ShardID] = cp.CheckPoint
	}
	return out
}

// endCursors returns each shard's end cursor.
func (b bed) endCursors(t testing.TB, project, logstore string) map[int]string {
	t.Helper()
	cli := b.Client()
	shards, err := cli.ListShards(project, logstore)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, sh := range shards {
		c, err := cli.GetCursor(project, logstore, sh.ShardID, "end")
		if err != nil {
			t.Fatal(err)
		}
		out[sh.ShardID] = c
	}
	return out
}

// atomicTime is a clock a test sets.
type atomicTime struct{ ns atomic.Int64 }

func (a *atomicTime) set(t time.Time) { a.ns.Store(t.UnixNano()) }
func (a *atomicTime) now() time.Time  { return time.Unix(0, a.ns.Load()) }
