package apitest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/ferryhq/ferry/api"
)

// Connector is the connector name the kit passes in every TaskConfig.
const Connector = "apitest"

// Timeouts the kit applies. Reads are bounded so a broken source fails the
// test instead of hanging it.
const (
	readTimeout   = 10 * time.Second
	cancelLatency = time.Second
	closeTimeout  = 5 * time.Second
)

// SourceCase describes one source configuration to check.
type SourceCase struct {
	// Plugin is the descriptor under test.
	Plugin api.SourcePlugin
	// Config holds the plugin's settings, keys relative to its prefix
	// ("path", not "source.path").
	Config map[string]string
	// Prepare, when set, runs once before the first Open, for example to
	// write the file a file source reads.
	Prepare func(t testing.TB)
	// Expect is how many records the kit reads in each run (at least 2).
	// Sources returning more per Read may give the kit a few more.
	Expect int
	// EndOfInput says the source is finite: after Expect records, Read
	// must return api.ErrEndOfInput.
	EndOfInput bool
	// Push, when set, marks a source that receives its input rather than
	// fetching it (a webhook). The kit calls it after every Open that it
	// reads from, asking it to deliver n records to src. It must not block
	// until they are read: the kit reads them after it returns. Push sources
	// cannot replay, so the resume check only verifies that a reopened
	// source does not reuse the positions or ids of committed records.
	Push func(t testing.TB, src api.Source, n int)
	// ServerGoroutines names the functions at the top of goroutines that
	// belong to a server the test runs in-process (a fake broker's
	// per-connection readers), not to the source: the leak checks ignore
	// them, since such a server notices a closed connection in its own
	// time.
	ServerGoroutines []string
	// Tasks, when above 1, marks a source that splits its partitions over
	// tasks.max tasks (kit.Owner's rule for Kafka partitions, RocketMQ
	// queues, SLS shards). The kit opens that many tasks side by side and
	// checks that every partition the single-task read saw is read by
	// exactly one of them. The case's input should spread over more
	// partitions than Tasks.
	Tasks int
}

// RunSource runs every source check as a subtest of t. See the package
// documentation for what is checked.
func RunSource(t *testing.T, c SourceCase) {
	t.Helper()
	if c.Expect < 2 {
		t.Fatalf("apitest: SourceCase.Expect must be at least 2, got %d", c.Expect)
	}
	leakOpts := []goleak.Option{goleak.IgnoreCurrent()}
	for _, f := range c.ServerGoroutines {
		leakOpts = append(leakOpts, goleak.IgnoreAnyFunction(f))
	}
	if !t.Run("spec", func(t *testing.T) { checkSpec(t, c.Plugin.Spec, c.Config) }) {
		return
	}
	if c.Prepare != nil {
		c.Prepare(t)
	}
	var ref []api.Record
	t.Run("lifecycle", func(t *testing.T) {
		sourceLifecycle(t, c)
		goleak.VerifyNone(t, leakOpts...)
	})
	if !t.Run("read", func(t *testing.T) {
		ref = sourceRead(t, c)
		goleak.VerifyNone(t, leakOpts...)
	}) {
		return
	}
	if c.Tasks > 1 && c.Push == nil {
		t.Run("tasks", func(t *testing.T) {
			sourceTasks(t, c, ref)
			goleak.VerifyNone(t, leakOpts...)
		})
	}
	t.Run("cancel", func(t *testing.T) {
		sourceCancel(t, c)
		goleak.VerifyNone(t, leakOpts...)
	})
	t.Run("resume", func(t *testing.T) {
		if c.Push != nil {
			sourceResumePush(t, c)
		} else {
			sourceResume(t, c, ref)
		}
		goleak.VerifyNone(t, leakOpts...)
	})
}

// checkSpec checks that the spec is well-formed, that its defaults are
// valid values, and that it accepts raw.
func checkSpec(t *testing.T, spec api.Spec, raw map[string]string) {
	seen := map[string]bool{}
	required := map[string]string{}
	for _, f := range spec {
		switch {
		case f.Name == "":
			t.Errorf("spec has a field without a name")
		case seen[f.Name]:
			t.Errorf("spec declares %q twice", f.Name)
		case f.Type == "":
			t.Errorf("field %q has no type", f.Name)
		case f.Description == "":
			t.Errorf("field %q has no description", f.Name)
		}
		seen[f.Name] = true
		if f.Required {
			// A reference skips every value check, so only the defaults
			// of the other fields are under test.
			required[f.Name] = "${env:APITEST_PLACEHOLDER}"
		}
	}
	if _, err := spec.Parse(required); err != nil {
		t.Errorf("spec rejects its own defaults: %v", err)
	}
	if _, err := spec.Parse(raw); err != nil {
		t.Fatalf("spec rejects the case's config: %v", err)
	}
}

// newSourceTask parses the case's config and builds task task of tasks.
func newSourceTask(t testing.TB, c SourceCase, task, tasks int, committed map[string]api.Position) api.Source {
	t.Helper()
	cfg, err := c.Plugin.Spec.Parse(c.Config)
	if err != nil {
		t.Fatalf("Spec.Parse: %v", err)
	}
	src, err := c.Plugin.New(api.TaskConfig{
		Connector: Connector, Task: task, Tasks: tasks, Config: cfg,
		Committed: committed, Logger: logger(t),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if src == nil {
		t.Fatalf("New returned a nil source and no error")
	}
	return src
}

func openSource(t testing.TB, c SourceCase, committed map[string]api.Position) api.Source {
	t.Helper()
	return openSourceTask(t, c, 0, 1, committed)
}

func openSourceTask(t testing.TB, c SourceCase, task, tasks int, committed map[string]api.Position) api.Source {
	t.Helper()
	src := newSourceTask(t, c, task, tasks, committed)
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	if err := src.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	return src
}

func closeSource(t testing.TB, src api.Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := src.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func sourceLifecycle(t *testing.T, c SourceCase) {
	src := openSource(t, c, nil)
	closeSource(t, src)

	// Close must return even when the ctx it gets is already done, as when
	// a worker shuts down hard.
	src = openSource(t, c, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- src.Close(ctx) }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Close with a cancelled ctx: %v", err)
		}
	case <-time.After(closeTimeout):
		t.Fatalf("Close with a cancelled ctx did not return within %v", closeTimeout)
	}
}

// readN reads until it holds at least n records, acknowledging each batch
// when src is an Acker. It fails the test on any error.
func readN(t testing.TB, src api.Source, n int) []api.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	var out []api.Record
	for len(out) < n {
		batch, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("Read after %d of %d records: %v", len(out), n, err)
		}
		checkRecords(t, batch)
		ack(t, src, batch)
		out = append(out, batch...)
	}
	return out
}

// readToEnd reads until api.ErrEndOfInput, failing after limit records.
func readToEnd(t testing.TB, src api.Source, limit int) []api.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	var out []api.Record
	for len(out) <= limit {
		batch, err := src.Read(ctx)
		if errors.Is(err, api.ErrEndOfInput) {
			return out
		}
		if err != nil {
			t.Fatalf("Read after %d records: %v", len(out), err)
		}
		checkRecords(t, batch)
		ack(t, src, batch)
		out = append(out, batch...)
	}
	t.Fatalf("no end of input after %d records", len(out))
	return nil
}

// ack acknowledges the last position of every partition in batch.
func ack(t testing.TB, src api.Source, batch []api.Record) {
	a, ok := src.(api.Acker)
	if !ok {
		return
	}
	for p, pos := range lastPositions(batch) {
		if err := a.Ack(context.Background(), p, pos); err != nil {
			t.Errorf("Ack(%q, %q): %v", p, pos, err)
		}
	}
}

func lastPositions(recs []api.Record) map[string]api.Position {
	last := map[string]api.Position{}
	for _, r := range recs {
		if r.Position != nil {
			last[r.Partition] = r.Position
		}
	}
	return last
}

// checkRecords checks what every record must satisfy on its own.
func checkRecords(t testing.TB, batch []api.Record) {
	t.Helper()
	if len(batch) == 0 {
		t.Errorf("Read returned an empty batch and no error; it must block until it has records")
	}
	for i := range batch {
		r := &batch[i]
		e := &r.Event
		switch {
		case e.ID == "":
			t.Errorf("record %d: empty event id", i)
		case e.Source == "":
			t.Errorf("record %q: empty event source", e.ID)
		case e.Type == "":
			t.Errorf("record %q: empty event type", e.ID)
		case e.SpecVersion != "" && e.SpecVersion != api.SpecVersion:
			t.Errorf("record %q: specversion %q", e.ID, e.SpecVersion)
		case r.Position == nil:
			t.Errorf("record %q: nil position; the kit cannot check resume", e.ID)
		case !readable(r.Position):
			t.Errorf("record %q: position %q is not human-readable text", e.ID, r.Position)
		}
		if _, err := e.AppendJSON(nil); err != nil {
			t.Errorf("record %q does not encode as a CloudEvent: %v", e.ID, err)
		}
	}
}

// readable reports whether p is printable UTF-8, as the REST API shows it.
func readable(p api.Position) bool {
	if len(p) == 0 || !utf8.Valid(p) {
		return false
	}
	return strings.IndexFunc(string(p), func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

func uniqueIDs(t testing.TB, recs []api.Record) {
	t.Helper()
	seen := make(map[string]bool, len(recs))
	for _, r := range recs {
		if seen[r.Event.ID] {
			t.Errorf("event id %q appears twice", r.Event.ID)
		}
		seen[r.Event.ID] = true
	}
}

func sourceRead(t *testing.T, c SourceCase) []api.Record {
	src := openSource(t, c, nil)
	defer closeSource(t, src)
	if c.Push != nil {
		c.Push(t, src, c.Expect)
	}
	recs := readN(t, src, c.Expect)
	uniqueIDs(t, recs)
	if c.EndOfInput {
		if len(recs) != c.Expect {
			t.Errorf("finite source yielded %d records, want %d", len(recs), c.Expect)
		}
		expectEnd(t, src)
	}
	return recs
}

// expectEnd checks that the next Read reports the end of input.
func expectEnd(t testing.TB, src api.Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	batch, err := src.Read(ctx)
	if !errors.Is(err, api.ErrEndOfInput) {
		t.Errorf("Read after the last record = %d records, %v; want api.ErrEndOfInput", len(batch), err)
	}
}

// sourceCancel checks that Read gives up promptly once its ctx is done,
// both when the ctx is cancelled while Read waits and when it is already
// cancelled on entry.
func sourceCancel(t *testing.T, c SourceCase) {
	src := openSource(t, c, nil)
	defer closeSource(t, src)

	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan time.Time, 1)
	timer := time.AfterFunc(100*time.Millisecond, func() {
		cancelled <- time.Now()
		cancel()
	})
	defer timer.Stop()
	hard := time.After(readTimeout)
	for {
		type result struct {
			n   int
			err error
		}
		done := make(chan result, 1)
		go func() {
			batch, err := src.Read(ctx)
			ack(t, src, batch)
			done <- result{len(batch), err}
		}()
		var res result
		select {
		case res = <-done:
		case <-hard:
			t.Fatalf("Read did not return within %v", readTimeout)
		}
		if res.err == nil {
			continue // a fast source: keep reading until the cancel
		}
		var at time.Time
		select {
		case at = <-cancelled:
		default:
			if !errors.Is(res.err, api.ErrEndOfInput) {
				t.Fatalf("Read failed before its ctx was cancelled: %v", res.err)
			}
		}
		if at.IsZero() {
			break // the input ran out before the cancel
		}
		if d := time.Since(at); d > cancelLatency {
			t.Errorf("Read returned %v after its ctx was cancelled; want within %v", d, cancelLatency)
		}
		if !errors.Is(res.err, context.Canceled) && !errors.Is(res.err, api.ErrEndOfInput) {
			t.Errorf("Read after cancel returned %v; want an error wrapping context.Canceled", res.err)
		}
		break
	}
	cancel()

	start := time.Now()
	_, err := src.Read(ctx)
	if d := time.Since(start); d > cancelLatency {
		t.Errorf("Read with a cancelled ctx took %v", d)
	}
	if err == nil {
		t.Errorf("Read with a cancelled ctx returned records and no error")
	}
}

// sourceResume reads part of the input, commits a position in the middle
// of what was read, reopens and checks that reading continues right after
// the committed record, with the same ids as the first run.
func sourceResume(t *testing.T, c SourceCase, ref []api.Record) {
	byPart := perPartition(ref)

	src := openSource(t, c, nil)
	first := readN(t, src, len(ref)/2)
	closeSource(t, src)

	// Commit only the first half of what was read, so the rest is read
	// twice and its ids must be stable.
	commitUpTo := (len(first) + 1) / 2
	committed := lastPositions(first[:commitUpTo])
	consumed := map[string]int{}
	for _, r := range first[:commitUpTo] {
		consumed[r.Partition]++
	}
	for p, n := range consumed {
		if n > len(byPart[p]) {
			t.Fatalf("partition %q: the second run read %d records of it, the reference run only %d: the reference run must read every record the other runs can reach (read the whole input in it)", p, n, len(byPart[p]))
		}
		if got, want := ids(first[:commitUpTo], p), ids(byPart[p][:n], p); !equal(got, want) {
			t.Fatalf("partition %q: second run started with %v, first run with %v", p, got, want)
		}
	}

	src = openSource(t, c, committed)
	defer closeSource(t, src)
	remaining := len(ref) - commitUpTo
	if remaining < 1 {
		t.Fatalf("nothing left to read after the commit")
	}
	var rest []api.Record
	if c.EndOfInput {
		rest = readToEnd(t, src, 2*remaining)
	} else {
		rest = readN(t, src, remaining)
	}
	restBy := perPartition(rest)
	for p, recs := range restBy {
		if _, ok := byPart[p]; !ok {
			t.Errorf("partition %q after resuming: %d records of a partition the reference run did not read (the reference run must read the whole input)", p, len(recs))
			continue
		}
		want := byPart[p][consumed[p]:]
		n := min(len(recs), len(want))
		if n == 0 {
			continue
		}
		if got, w := ids(recs[:n], p), ids(want[:n], p); !equal(got, w) {
			t.Errorf("partition %q after resuming at %q:\n got ids %v\nwant ids %v", p, committed[p], got, w)
		}
	}
	if c.EndOfInput {
		// A finite source must deliver the whole remainder of every
		// partition, including ones it never reached before the commit.
		for p, recs := range byPart {
			if got, want := len(restBy[p]), len(recs)-consumed[p]; got != want {
				t.Errorf("partition %q after resuming: %d records, want %d", p, got, want)
			}
		}
	}
	if len(restBy) == 0 {
		t.Errorf("no records after resuming")
	}
}

// sourceResumePush checks a push source across a restart: records
// committed in the first run are never handed out again with the same id
// or position.
func sourceResumePush(t *testing.T, c SourceCase) {
	src := openSource(t, c, nil)
	c.Push(t, src, c.Expect)
	first := readN(t, src, c.Expect)
	closeSource(t, src)

	src = openSource(t, c, lastPositions(first))
	defer closeSource(t, src)
	c.Push(t, src, c.Expect)
	second := readN(t, src, c.Expect)
	uniqueIDs(t, append(append([]api.Record(nil), first...), second...))
	seen := map[string]bool{}
	for _, r := range first {
		seen[r.Partition+"\x00"+string(r.Position)] = true
	}
	for _, r := range second {
		if seen[r.Partition+"\x00"+string(r.Position)] {
			t.Errorf("position %q of partition %q reused after a restart", r.Position, r.Partition)
		}
	}
}

func perPartition(recs []api.Record) map[string][]api.Record {
	out := map[string][]api.Record{}
	for _, r := range recs {
		out[r.Partition] = append(out[r.Partition], r)
	}
	return out
}

func ids(recs []api.Record, partition string) []string {
	var out []string
	for _, r := range recs {
		if r.Partition == partition {
			out = append(out, fmt.Sprintf("%s@%s", r.Event.ID, r.Position))
		}
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
