package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
)

// herdFakes are small plugins whose behaviour a test steers: a counting
// source, a collecting sink and a tagging transform. One per test, so
// parallel tests do not share state.
type herdFakes struct {
	mu sync.Mutex
	// openFailures is how many more Source.Open calls fail.
	openFailures int
	// openFatal makes those failures api.Fatal.
	openFatal bool
	opens     int
	// written collects sink writes, by sink path.
	written map[string][]api.Record
	// seen records what plugin constructors received.
	seenSource []api.TaskConfig
	seenSink   []api.TaskConfig
}

func newHerdFakes() *herdFakes {
	return &herdFakes{written: map[string][]api.Record{}}
}

func (f *herdFakes) registry() worker.Registry {
	return worker.Registry{
		Sources: []api.SourcePlugin{{
			Name:    "counter",
			Summary: "counts from the committed position",
			Spec: api.Spec{
				{Name: "count", Type: api.TypeInt, Default: "0", Description: "records to emit; 0 = endless"},
				{Name: "password", Type: api.TypeString, Secret: true},
				{Name: "partition", Type: api.TypeString, Default: "p0"},
			},
			New: func(tc api.TaskConfig) (api.Source, error) {
				f.mu.Lock()
				f.seenSource = append(f.seenSource, tc)
				f.mu.Unlock()
				return &herdSource{f: f, tc: tc}, nil
			},
		}, {
			Name: "planned",
			Spec: api.Spec{{Name: "partition", Type: api.TypeString}, {Name: "count", Type: api.TypeInt, Default: "0"}},
			New: func(tc api.TaskConfig) (api.Source, error) {
				f.mu.Lock()
				f.seenSource = append(f.seenSource, tc)
				f.mu.Unlock()
				return &herdSource{f: f, tc: tc}, nil
			},
			Plan: func(c api.Config, maxTasks int) ([]map[string]string, error) {
				out := []map[string]string{}
				for i := range min(maxTasks, 2) {
					out = append(out, map[string]string{"partition": "part-" + strconv.Itoa(i)})
				}
				return out, nil
			},
		}},
		Sinks: []api.SinkPlugin{{
			Name: "mem",
			Spec: api.Spec{
				{Name: "path", Type: api.TypeString, Required: true},
				{Name: "token", Type: api.TypeString, Secret: true},
			},
			New: func(tc api.TaskConfig) (api.Sink, error) {
				f.mu.Lock()
				f.seenSink = append(f.seenSink, tc)
				f.mu.Unlock()
				return &herdSink{f: f, path: tc.Config.String("path")}, nil
			},
		}},
		Predicates: []api.PredicatePlugin{{
			Name: "even",
			New:  func(api.Config) (api.Predicate, error) { return herdEven{}, nil },
		}},
		PredicateWrap: func(t api.Transform, p api.Predicate, negate bool) api.Transform {
			return herdGuarded{t: t, p: p, negate: negate}
		},
		Transforms: []api.TransformPlugin{{
			Name: "tag",
			Spec: api.Spec{{Name: "value", Type: api.TypeString, Required: true}},
			New: func(c api.Config) (api.Transform, error) {
				return herdTag(c.String("value")), nil
			},
		}},
	}
}

func (f *herdFakes) records(path string) []api.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Record(nil), f.written[path]...)
}

func (f *herdFakes) setOpenFailures(n int, fatal bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.openFailures, f.openFatal = n, fatal
}

type herdSource struct {
	f    *herdFakes
	tc   api.TaskConfig
	next int
	part string
}

func (s *herdSource) Open(ctx context.Context) error {
	s.f.mu.Lock()
	s.f.opens++
	fail, fatal := s.f.openFailures > 0, s.f.openFatal
	if fail {
		s.f.openFailures--
	}
	s.f.mu.Unlock()
	// A careless plugin that logs its secret: the worker must scrub it.
	s.tc.Logger.Info("opening source", "password", s.tc.Config.String("password"), "msg", "pw="+s.tc.Config.String("password"))
	if fail {
		err := errors.New("upstream refused the connection")
		if fatal {
			return api.Fatal(err)
		}
		return err
	}
	s.part = s.tc.Config.String("partition")
	if p, ok := s.tc.Committed[s.part]; ok {
		n, err := strconv.Atoi(string(p))
		if err != nil {
			return api.Fatal(fmt.Errorf("bad committed position %q", p))
		}
		s.next = n + 1
	}
	return nil
}

func (s *herdSource) Read(ctx context.Context) ([]api.Record, error) {
	count := s.tc.Config.Int("count")
	if count > 0 && s.next >= count {
		return nil, api.ErrEndOfInput
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(2 * time.Millisecond):
	}
	var out []api.Record
	for range 5 {
		if count > 0 && s.next >= count {
			break
		}
		pos := strconv.Itoa(s.next)
		out = append(out, api.Record{
			Event:     api.Event{ID: s.part + "-" + pos, Source: "test", Type: "count", Data: []byte(pos)},
			Partition: s.part,
			Position:  api.Position(pos),
		})
		s.next++
	}
	return out, nil
}

func (s *herdSource) Close(context.Context) error { return nil }

type herdSink struct {
	f    *herdFakes
	path string
}

func (s *herdSink) Open(context.Context) error { return nil }

func (s *herdSink) Write(_ context.Context, recs []api.Record) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.written[s.path] = append(s.f.written[s.path], recs...)
	return nil
}

func (s *herdSink) Close(context.Context) error { return nil }

// herdEven holds for records at even positions.
type herdEven struct{}

func (herdEven) Test(r *api.Record) (bool, error) {
	n, err := strconv.Atoi(string(r.Position))
	return n%2 == 0, err
}

// herdGuarded is a test double of the transform engine's predicate.Wrap.
type herdGuarded struct {
	t      api.Transform
	p      api.Predicate
	negate bool
}

func (g herdGuarded) Apply(r *api.Record) (bool, error) {
	ok, err := g.p.Test(r)
	if err != nil || ok == g.negate {
		return err == nil, err
	}
	return g.t.Apply(r)
}

type herdTag string

func (t herdTag) Apply(r *api.Record) (bool, error) {
	r.Event.SetExtension("tag", string(t))
	return true, nil
}

// herdLog is a concurrency-safe log buffer.
type herdLog struct {
	mu  sync.Mutex
	buf []byte
}

func (l *herdLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	return len(p), nil
}

func (l *herdLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

// herdStore records every status written, to see transitions a poll
// could miss.
type herdStore struct {
	state.Store
	mu       sync.Mutex
	statuses []state.Status
}

func (s *herdStore) PutStatus(ctx context.Context, st state.Status) error {
	s.mu.Lock()
	s.statuses = append(s.statuses, st)
	s.mu.Unlock()
	return s.Store.PutStatus(ctx, st)
}

func (s *herdStore) sawState(conn string, task int, state state.State) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.statuses {
		if st.Connector == conn && st.Task == task && st.State == state {
			return true
		}
	}
	return false
}

// herdWorker is a running Standalone for one test.
type herdWorker struct {
	*worker.Standalone
	fakes *herdFakes
	store *herdStore
	log   *herdLog
	stop  func()
}

type herdOption func(*worker.Config)

// startHerd starts a worker over store (a fresh memory store when nil)
// and stops it at the end of the test.
func startHerd(t *testing.T, fakes *herdFakes, store state.Store, opts ...herdOption) *herdWorker {
	t.Helper()
	if fakes == nil {
		fakes = newHerdFakes()
	}
	if store == nil {
		store = state.NewMemory()
	}
	hs := &herdStore{Store: store}
	logs := &herdLog{}
	cfg := worker.Config{
		WorkerID: "127.0.0.1:8083",
		Store:    hs,
		Registry: fakes.registry(),
		Restart:  worker.RestartPolicy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	w, err := worker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	// Writes before Run loaded are stored and then loaded, so the test
	// need not wait for Run.
	return &herdWorker{Standalone: w, fakes: fakes, store: hs, log: logs, stop: stop}
}

// baseConfig is a valid connector config writing to sink path "out".
func baseConfig(name string) map[string]string {
	return map[string]string{
		"name":                     name,
		"source":                   "counter",
		"sink":                     "mem",
		"sink.path":                name + "-out",
		"offset.flush.interval.ms": "20",
		"errors.retry.timeout":     "20ms",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// eventually polls cond until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// states returns the connector state and task states of name.
func (w *herdWorker) states(t *testing.T, name string) (string, []string) {
	t.Helper()
	st, err := w.ConnectorStatus(context.Background(), name)
	if err != nil {
		t.Fatalf("ConnectorStatus(%s): %v", name, err)
	}
	var tasks []string
	for _, ts := range st.Tasks {
		tasks = append(tasks, ts.State)
	}
	return st.Connector.State, tasks
}

// waitStates waits until the connector and every task are in the given
// states (tasks == nil: no tasks).
func (w *herdWorker) waitStates(t *testing.T, name, conn string, tasks ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s to be %s %v", name, conn, tasks), func() bool {
		c, ts := w.states(t, name)
		if c != conn || len(ts) != len(tasks) {
			return false
		}
		for i := range ts {
			if ts[i] != tasks[i] {
				return false
			}
		}
		return true
	})
}

// httpDo sends a JSON request and returns the status and body.
func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
