package apitest_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
)

// fake is a finite source with switchable faults, so the kit's own tests
// can show that each check catches what it claims to.
type fake struct {
	fault     string
	next, end int
	stop      chan struct{}
}

func fakePlugin(fault string) api.SourcePlugin {
	return api.SourcePlugin{
		Name: "fake",
		Spec: api.Spec{{Name: "count", Type: api.TypeInt, Default: "20", Description: "events"}},
		New: func(tc api.TaskConfig) (api.Source, error) {
			f := &fake{fault: fault, end: tc.Config.Int("count"), stop: make(chan struct{})}
			if p, ok := tc.Committed["p"]; ok && fault != "ignores-commit" {
				n, _ := strconv.Atoi(string(p))
				f.next = n + 1
				if fault == "skips-one" {
					f.next++
				}
			}
			return f, nil
		},
	}
}

func (f *fake) Open(context.Context) error {
	if f.fault == "leaks" {
		go func() { <-make(chan struct{}) }() // never ends
	}
	return nil
}

func (f *fake) Read(ctx context.Context) ([]api.Record, error) {
	if f.next >= f.end {
		if f.fault == "ignores-cancel" {
			time.Sleep(3 * time.Second)
		}
		return nil, api.ErrEndOfInput
	}
	n := strconv.Itoa(f.next)
	pos := api.Position(n)
	if f.fault == "binary-position" {
		pos = api.Position{0, byte(f.next)}
	}
	id := "id-" + n
	if f.fault == "random-ids" {
		id += "-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	f.next++
	return []api.Record{{
		Event:     api.Event{ID: id, Source: "/s", Type: "t", Data: []byte(`{}`)},
		Partition: "p",
		Position:  pos,
	}}, nil
}

func (f *fake) Close(context.Context) error { return nil }

// lossy is a sink that forgets what it wrote before a restart, or
// writes each batch backwards (reordering every key).
type lossy struct {
	mu       *sync.Mutex
	stored   *[]api.Record
	forget   bool
	reorders bool
}

func lossyPlugin(forget, reorders bool) (api.SinkPlugin, func(testing.TB) []api.Event, func(testing.TB) []api.Record) {
	var mu sync.Mutex
	var stored []api.Record
	p := api.SinkPlugin{Name: "lossy", Spec: api.Spec{}, New: func(api.TaskConfig) (api.Sink, error) {
		return &lossy{mu: &mu, stored: &stored, forget: forget, reorders: reorders}, nil
	}}
	records := func(testing.TB) []api.Record {
		mu.Lock()
		defer mu.Unlock()
		return append([]api.Record(nil), stored...)
	}
	events := func(t testing.TB) []api.Event {
		var out []api.Event
		for _, r := range records(t) {
			out = append(out, r.Event)
		}
		return out
	}
	return p, events, records
}

func (l *lossy) Open(context.Context) error {
	if l.forget {
		l.mu.Lock()
		*l.stored = nil
		l.mu.Unlock()
	}
	return nil
}

func (l *lossy) Write(_ context.Context, recs []api.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range recs {
		if l.reorders {
			i = len(recs) - 1 - i
		}
		*l.stored = append(*l.stored, recs[i])
	}
	return nil
}

// split is a finite source of four partitions, five records each, split
// over tasks as i mod tasks — or, with its faults, read whole by every
// task, or with one partition read by no task.
type split struct {
	fault string
	parts []int
	next  map[int]int
}

func splitPlugin(fault string) api.SourcePlugin {
	return api.SourcePlugin{Name: "split", Spec: api.Spec{}, New: func(tc api.TaskConfig) (api.Source, error) {
		s := &split{fault: fault, next: map[int]int{}}
		for p := range 4 {
			switch {
			case fault == "tasks-overlap" || tc.Tasks == 1:
				s.parts = append(s.parts, p)
			case fault == "tasks-miss" && p == 3:
			case p%tc.Tasks == tc.Task:
				s.parts = append(s.parts, p)
			}
		}
		for p, pos := range tc.Committed {
			n, _ := strconv.Atoi(string(pos))
			s.next[int(p[1]-'0')] = n + 1
		}
		return s, nil
	}}
}

func (s *split) Open(context.Context) error { return nil }

func (s *split) Read(context.Context) ([]api.Record, error) {
	var out []api.Record
	for _, p := range s.parts {
		if n := s.next[p]; n < 5 {
			s.next[p]++
			name := "p" + strconv.Itoa(p)
			out = append(out, api.Record{Event: api.Event{ID: name + "-" + strconv.Itoa(n), Source: "/s", Type: "t", Data: []byte(`{}`)},
				Partition: name, Position: api.Position(strconv.Itoa(n))})
		}
	}
	if len(out) == 0 {
		return nil, api.ErrEndOfInput
	}
	return out, nil
}

func (s *split) Close(context.Context) error { return nil }

func (l *lossy) Close(context.Context) error { return nil }

// TestKit runs itself as a child process for each faulty plugin, since a
// kit failure fails the test that ran it, and checks that exactly the
// faulty ones fail, naming the check that caught them.
func TestKit(t *testing.T) {
	if os.Getenv("APITEST_CHILD") != "" {
		t.Skip("child")
	}
	tests := []struct {
		fault    string
		wantFail string // substring of the child's output; "" = must pass
	}{
		{"none", ""},
		{"sink-ok", ""},
		{"ignores-commit", "after resuming"},
		{"skips-one", "after resuming"},
		{"random-ids", "second run started with"},
		{"binary-position", "not human-readable"},
		{"ignores-cancel", "cancel"},
		{"leaks", "found unexpected goroutines"},
		{"sink-forgets", "is not read back"},
		{"split-ok", ""},
		{"tasks-overlap", "each partition belongs to exactly one task"},
		{"tasks-miss", "was read by none of 2 tasks"},
		{"keyed-ok", ""},
		{"keyed-reorders", "the sink reordered a key"},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.v")
			cmd.Env = append(os.Environ(), "APITEST_CHILD="+tt.fault)
			out, err := cmd.CombinedOutput()
			switch {
			case tt.wantFail == "" && err != nil:
				t.Fatalf("the kit failed a correct plugin:\n%s", out)
			case tt.wantFail != "" && err == nil:
				t.Fatalf("the kit passed a plugin that %s:\n%s", tt.fault, out)
			case tt.wantFail != "" && !strings.Contains(string(out), tt.wantFail):
				t.Fatalf("the kit failed %s without mentioning %q:\n%s", tt.fault, tt.wantFail, out)
			}
		})
	}
}

func TestChild(t *testing.T) {
	fault := os.Getenv("APITEST_CHILD")
	switch fault {
	case "":
		t.Skip("run by TestKit")
	case "sink-ok", "sink-forgets":
		p, readBack, _ := lossyPlugin(fault == "sink-forgets", false)
		apitest.RunSink(t, apitest.SinkCase{Plugin: p, ReadBack: readBack})
	case "keyed-ok", "keyed-reorders":
		p, readBack, keyed := lossyPlugin(false, fault == "keyed-reorders")
		apitest.RunSink(t, apitest.SinkCase{Plugin: p, ReadBack: readBack, KeyedOrder: keyed})
	case "split-ok", "tasks-overlap", "tasks-miss":
		apitest.RunSource(t, apitest.SourceCase{Plugin: splitPlugin(fault), Expect: 20, EndOfInput: true, Tasks: 2})
	default:
		apitest.RunSource(t, apitest.SourceCase{Plugin: fakePlugin(fault), Expect: 20, EndOfInput: fault != "ignores-cancel"})
	}
}
