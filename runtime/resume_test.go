package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/state"
)

// journal records plugin calls in the order the task makes them.
type journal struct {
	mu    sync.Mutex
	calls []string
}

func (j *journal) add(call string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, call)
}

func (j *journal) String() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return strings.Join(j.calls, ", ")
}

// storingSink is a memSink that stores positions with its writes, as a
// sink with an exactly-once option does: Positions answers from stored
// after failing with each of errs in turn.
type storingSink struct {
	memSink
	j      *journal
	stored map[string]api.Position
	errs   []error
}

func (s *storingSink) Open(ctx context.Context) error {
	s.j.add("sink open")
	return nil
}

func (s *storingSink) Positions(ctx context.Context) (map[string]api.Position, error) {
	s.j.add("sink positions")
	if len(s.errs) > 0 {
		err := s.errs[0]
		s.errs = s.errs[1:]
		return nil, err
	}
	return maps.Clone(s.stored), nil
}

// journalSink is a plain memSink that records its Open.
type journalSink struct {
	memSink
	j *journal
}

func (s *journalSink) Open(ctx context.Context) error {
	s.j.add("sink open")
	return nil
}

// resumingSource builds a countSource (partition "p", ten records in all)
// that resumes after committed["p"], and records what it was built from.
func resumingSource(j *journal, built *map[string]api.Position) func(map[string]api.Position) (api.Source, error) {
	return func(committed map[string]api.Position) (api.Source, error) {
		j.add("new source")
		*built = maps.Clone(committed)
		src := &countSource{n: 10, batch: 4}
		if pos, ok := committed["p"]; ok {
			n, err := strconv.Atoi(string(pos))
			if err != nil {
				return nil, api.Fatal(fmt.Errorf("bad position %q", pos))
			}
			src.start = n + 1
		}
		return src, nil
	}
}

func positions(kv ...string) map[string]api.Position {
	m := map[string]api.Position{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = api.Position(kv[i+1])
	}
	return m
}

func TestNewSourceResumesFromSinkPositions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		committed map[string]api.Position // the offset store's
		stored    map[string]api.Position // the sink's; nil: not a PositionStore
		built     map[string]api.Position // what NewSource must get
		commits   map[string]string       // committed before the first write
		order     string
		ids       string // written by the sink
	}{
		{
			name:      "sink ahead of the store wins; partitions only in one side are kept",
			committed: positions("p", "3", "q", "7"),
			stored:    positions("p", "6", "r", "1"),
			built:     positions("p", "6", "q", "7", "r", "1"),
			commits:   map[string]string{"p": "6", "r": "1"},
			order:     "sink open, sink positions, new source",
			ids:       "e-7 e-8 e-9",
		},
		{
			name:      "store never committed",
			committed: nil,
			stored:    positions("p", "8"),
			built:     positions("p", "8"),
			commits:   map[string]string{"p": "8"},
			order:     "sink open, sink positions, new source",
			ids:       "e-9",
		},
		{
			name:      "sink and store agree: nothing to commit",
			committed: positions("p", "4"),
			stored:    positions("p", "4"),
			built:     positions("p", "4"),
			order:     "sink open, sink positions, new source",
			ids:       "e-5 e-6 e-7 e-8 e-9",
		},
		{
			name:      "sink stores nothing (exactly once off)",
			committed: positions("p", "4"),
			stored:    positions(),
			built:     positions("p", "4"),
			order:     "sink open, sink positions, new source",
			ids:       "e-5 e-6 e-7 e-8 e-9",
		},
		{
			name:      "sink without the capability: the store's positions",
			committed: positions("p", "7"),
			built:     positions("p", "7"),
			order:     "sink open, new source",
			ids:       "e-8 e-9",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := &journal{}
			var sink api.Sink = &journalSink{j: j}
			ids := sink.(*journalSink).IDs
			if tc.stored != nil {
				s := &storingSink{j: j, stored: tc.stored}
				sink, ids = s, s.IDs
			}
			committedCopy := maps.Clone(tc.committed)
			com := &recordingCommitter{}
			var built map[string]api.Position
			if _, err := run(t, runtime.Config{
				NewSource: resumingSource(j, &built), Committed: tc.committed,
				Sink: sink, Committer: com,
			}); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := j.String(); got != tc.order {
				t.Errorf("calls %q; want %q", got, tc.order)
			}
			if !maps.EqualFunc(built, tc.built, func(a, b api.Position) bool { return string(a) == string(b) }) {
				t.Errorf("source built from %q; want %q", built, tc.built)
			}
			if !maps.EqualFunc(tc.committed, committedCopy, func(a, b api.Position) bool { return string(a) == string(b) }) {
				t.Errorf("Config.Committed modified: %q; was %q", tc.committed, committedCopy)
			}
			first := com.first()
			if len(tc.commits) == 0 && first["p"] != "9" {
				t.Errorf("first commit %v; want only the written records' (p=9)", first)
			} else if len(tc.commits) > 0 && !maps.Equal(first, tc.commits) {
				t.Errorf("first commit %v; want the sink's moved partitions %v", first, tc.commits)
			}
			if got := strings.Join(ids(), " "); got != tc.ids {
				t.Errorf("sink got %q; want %q", got, tc.ids)
			}
		})
	}
}

// recordingCommitter keeps every commit in order.
type recordingCommitter struct {
	mu      sync.Mutex
	commits []map[string]string
	err     error
}

func (c *recordingCommitter) Commit(o map[string]api.Position) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	m := map[string]string{}
	for k, v := range o {
		m[k] = string(v)
	}
	c.commits = append(c.commits, m)
	return nil
}

func (c *recordingCommitter) first() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.commits) == 0 {
		return nil
	}
	return c.commits[0]
}

// TestSinkPositionsFailLikeOpen: Positions is retried by the rules of
// Open; when it fails for good the source is never built and the sink is
// closed.
func TestSinkPositionsFailLikeOpen(t *testing.T) {
	t.Parallel()
	transient := api.Retryable(errors.New("connection reset"))
	for _, tc := range []struct {
		name    string
		errs    []error
		timeout time.Duration
		want    string // in Run's error; empty: the run succeeds
		fatal   bool
		retries int64  // at least
		order   string // calls, when checked
	}{
		{
			name:    "transient failures are retried",
			errs:    []error{transient, transient},
			retries: 2,
			order:   "sink open, sink positions, sink positions, sink positions, new source",
		},
		{
			name:  "a fatal failure fails the task",
			errs:  []error{api.Fatal(errors.New("access denied"))},
			want:  "read sink positions: access denied",
			fatal: true,
			order: "sink open, sink positions",
		},
		{
			name:    "transient failures past the retry timeout",
			errs:    slices.Repeat([]error{transient}, 1000),
			timeout: 30 * time.Millisecond,
			want:    runtime.ErrRetriesExhausted.Error(),
			retries: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := &journal{}
			sink := &storingSink{j: j, stored: positions("p", "8"), errs: tc.errs}
			var built map[string]api.Position
			task, err := run(t, runtime.Config{
				NewSource: resumingSource(j, &built), Sink: sink, Committer: &memCommitter{},
				Retry: runtime.Retry{Initial: time.Millisecond, Max: 5 * time.Millisecond, Timeout: tc.timeout},
			})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Run: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Run: %v; want %q", err, tc.want)
			case api.IsFatal(err) != tc.fatal:
				t.Errorf("Run: %v; fatal %v, want %v", err, api.IsFatal(err), tc.fatal)
			}
			if tc.order != "" && j.String() != tc.order {
				t.Errorf("calls %q; want %q", j.String(), tc.order)
			}
			if tc.want != "" {
				if built != nil {
					t.Errorf("source built from %v although Positions failed", built)
				}
				if !sink.closed {
					t.Error("sink not closed")
				}
			} else if got := strings.Join(sink.IDs(), " "); got != "e-9" {
				t.Errorf("sink got %q; want e-9", got)
			}
			if got := task.Metrics().RetryTotal; got < tc.retries {
				t.Errorf("RetryTotal = %d; want at least %d", got, tc.retries)
			}
		})
	}
}

// TestSinkPositionsCommit: committing the sink's positions at start is
// fenced like any commit; a transient failure only leaves the store
// behind.
func TestSinkPositionsCommit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		err     error
		wantErr error
	}{
		{"fenced: a newer run owns the offsets", api.Fatal(state.ErrFenced), state.ErrFenced},
		{"transient: the task runs on", errors.New("store unavailable"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := &journal{}
			sink := &storingSink{j: j, stored: positions("p", "8")}
			var built map[string]api.Position
			task, err := run(t, runtime.Config{
				NewSource: resumingSource(j, &built), Sink: sink,
				Committer: &recordingCommitter{err: tc.err},
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Run: %v; want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				if built != nil {
					t.Errorf("source built from %v after a fenced commit", built)
				}
				return
			}
			if got := strings.Join(sink.IDs(), " "); got != "e-9" {
				t.Errorf("sink got %q; want e-9", got)
			}
			if f := task.Metrics().OffsetCommitFailures; f == 0 {
				t.Error("OffsetCommitFailures = 0")
			}
		})
	}
}

// TestNewSourceFailure: a constructor error ends the run with the sink
// closed and the error kept as the constructor classified it.
func TestNewSourceFailure(t *testing.T) {
	t.Parallel()
	j := &journal{}
	sink := &storingSink{j: j, stored: positions("p", "not a number")}
	var built map[string]api.Position
	_, err := run(t, runtime.Config{NewSource: resumingSource(j, &built), Sink: sink, Committer: &memCommitter{}})
	if err == nil || !api.IsFatal(err) || !strings.Contains(err.Error(), `build source: bad position "not a number"`) {
		t.Fatalf("Run: %v; want the constructor's fatal error", err)
	}
	if !sink.closed {
		t.Error("sink not closed")
	}
}

func TestConfigValidateSource(t *testing.T) {
	t.Parallel()
	newSrc := func(map[string]api.Position) (api.Source, error) { return &countSource{}, nil }
	for _, tc := range []struct {
		name string
		cfg  runtime.Config
		want string
	}{
		{"neither", runtime.Config{}, "Source is required"},
		{"both", runtime.Config{Source: &countSource{}, NewSource: newSrc}, "Source and NewSource are exclusive"},
		{"committed with a built source", runtime.Config{Source: &countSource{}, Committed: positions("p", "1")}, "Committed is only read with NewSource"},
		{"new source and committed", runtime.Config{NewSource: newSrc, Committed: positions("p", "1")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.Sink, tc.cfg.Committer = &memSink{}, &memCommitter{}
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v; want %q", err, tc.want)
			}
		})
	}
}

// savingSink stores the position of its last written record with its
// writes and saves the positions the engine commits (api.PositionSaver);
// its first failSaves saves fail.
type savingSink struct {
	memSink
	pmu       sync.Mutex
	stored    map[string]api.Position
	saves     []map[string]api.Position
	failSaves int
	okWrites  int // when > 0, writes after this many fail fatally
	written   int
}

func (s *savingSink) Write(ctx context.Context, recs []api.Record) error {
	s.pmu.Lock()
	s.written++
	failed := s.okWrites > 0 && s.written > s.okWrites
	s.pmu.Unlock()
	if failed {
		return api.Fatal(errors.New("table dropped"))
	}
	if err := s.memSink.Write(ctx, recs); err != nil {
		return err
	}
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if s.stored == nil {
		s.stored = map[string]api.Position{}
	}
	for _, r := range recs {
		s.stored[r.Partition] = r.Position
	}
	return nil
}

func (s *savingSink) Positions(ctx context.Context) (map[string]api.Position, error) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	return maps.Clone(s.stored), nil
}

func (s *savingSink) SavePositions(ctx context.Context, p map[string]api.Position) error {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if s.failSaves > 0 {
		s.failSaves--
		return errors.New("database unavailable")
	}
	s.saves = append(s.saves, maps.Clone(p))
	maps.Copy(s.stored, p)
	return nil
}

// dropRange filters out the records from seq from up to (not including)
// seq to.
type dropRange struct{ from, to int }

func (d dropRange) Apply(r *api.Record) (bool, error) {
	n, _ := strconv.Atoi(string(r.Position))
	return n < d.from || n >= d.to, nil
}

// A sink that saves positions (api.PositionSaver) gets the committed
// positions after the writer's commits, so records the chain filtered out
// after its last write do not leave its positions behind, even when a save
// fails once; the next start resumes after them.
func TestSinkSavesPositionsOfRecordsItNeverSaw(t *testing.T) {
	t.Parallel()
	for _, failSaves := range []int{0, 1} {
		t.Run(fmt.Sprintf("failed saves %d", failSaves), func(t *testing.T) {
			t.Parallel()
			sink := &savingSink{failSaves: failSaves}
			com := &memCommitter{}
			// Batches trickle in, so the 1 ms commit ticks fall between
			// writes and the failed save is retried by a later one.
			src := &countSource{n: 10, batch: 2, delay: 5 * time.Millisecond}
			task, err := run(t, runtime.Config{
				Source: src, Sink: sink, Committer: com, CommitInterval: time.Millisecond,
				Transforms: []runtime.NamedTransform{{Name: "head", Transform: dropRange{6, 10}}},
			})
			if err != nil || !task.Finished() {
				t.Fatalf("Run: %v, finished %v", err, task.Finished())
			}
			if got := sink.IDs(); len(got) != 6 {
				t.Fatalf("sink wrote %v, want e-0 … e-5", got)
			}
			if got := com.get("p"); got != "9" {
				t.Fatalf("committed %q, want 9", got)
			}
			stored, _ := sink.Positions(context.Background())
			if got := string(stored["p"]); got != "9" {
				t.Errorf("the sink holds position %q, want 9 (the last filtered record's); saves: %v", got, sink.saves)
			}
		})
	}
}

// After a failed write the writer's last commit still commits what is
// safe but saves nothing in the sink: the sink may hold a position past
// the acknowledged ones (a transaction that committed although its answer
// was lost).
func TestNoSavedPositionsAfterAFailedWrite(t *testing.T) {
	t.Parallel()
	// e-0, e-1 written; e-2 … e-7 filtered (safe up to 7); e-8's write fails.
	sink := &savingSink{okWrites: 1}
	com := &memCommitter{}
	_, err := run(t, runtime.Config{
		Source: &countSource{n: 10, batch: 2}, Sink: sink, Committer: com,
		Transforms: []runtime.NamedTransform{{Name: "middle", Transform: dropRange{2, 8}}},
	})
	if err == nil || !strings.Contains(err.Error(), "table dropped") {
		t.Fatalf("err = %v, want the sink's", err)
	}
	if got := com.get("p"); got != "7" {
		t.Errorf("committed %q, want 7", got)
	}
	if len(sink.saves) != 0 {
		t.Errorf("saves after a failed write: %v", sink.saves)
	}
}
