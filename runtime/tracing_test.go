package runtime_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/trace"
)

func newRecorder(t *testing.T, lim trace.Limits) *trace.Recorder {
	t.Helper()
	r, err := trace.NewRecorder(lim)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// steps renders a trace's steps as "transform odd=kept sink=written(1)
// dead-letter=written".
func steps(tr trace.Trace) string {
	var s []string
	for _, st := range tr.Steps {
		x := st.Stage
		if st.Name != "" {
			x += " " + st.Name
		}
		x += "=" + string(st.Decision)
		if st.Retries > 0 {
			x += fmt.Sprintf("(%d)", st.Retries)
		}
		if st.Error != "" {
			x += ": " + st.Error
		}
		if st.Time.Before(tr.Read) || st.Time.After(tr.Done) {
			x += " OUT OF ORDER"
		}
		s = append(s, x)
	}
	return strings.Join(s, " | ")
}

// tracedTask runs 40 events through odd (drops odd ones, fails e-13) and
// shape (rewrites each) into a sink that rejects e-20, with a dead-letter
// sink, sampling rate of the events.
func tracedTask(t *testing.T, rate float64, tol runtime.Tolerance) (*trace.Recorder, error) {
	t.Helper()
	rec := newRecorder(t, trace.Limits{})
	_, err := run(t, runtime.Config{Connector: "c", Task: 2,
		Source: &jsonSource{countSource{n: 40, batch: 7}}, Sink: &memSink{failN: 1, reject: map[string]bool{"e-20": true}},
		Committer:  &memCommitter{},
		Transforms: []runtime.NamedTransform{{Name: "odd", Transform: dropOdd{}}, {Name: "shape", Transform: rewrite{}}},
		DeadLetter: &memSink{}, Tolerance: tol, ScrubError: func(s string) string { return strings.ReplaceAll(s, "route", "[hidden]") },
		Retry:  runtime.Retry{Initial: time.Millisecond, Max: time.Millisecond},
		Tracer: rec, TraceSampleRate: rate})
	return rec, err
}

func TestTracesEveryOutcome(t *testing.T) {
	t.Parallel()
	rec, err := tracedTask(t, 1, runtime.ToleranceAll)
	if err != nil {
		t.Fatal(err)
	}
	one := func(id string) trace.Trace {
		t.Helper()
		got := rec.Traces("c", trace.Filter{EventID: id})
		if len(got) != 1 {
			t.Fatalf("%s: %d traces", id, len(got))
		}
		tr := got[0]
		if tr.Connector != "c" || tr.Task != 2 || tr.Partition != "p" || tr.Position != strings.TrimPrefix(id, "e-") || !tr.Sampled || tr.Read.IsZero() || tr.Done.Before(tr.Read) {
			t.Errorf("%s: %+v", id, tr)
		}
		return tr
	}
	for _, tc := range []struct {
		id, outcome, steps string
	}{
		// The first write fails once (memSink.failN): e-0's batch (e-0 to
		// e-6) was retried, e-8's was not.
		{"e-0", "delivered", "transform odd=kept | transform shape=changed | sink=written(1)"},
		{"e-8", "delivered", "transform odd=kept | transform shape=changed | sink=written"},
		{"e-3", "dropped", "transform odd=dropped"},
		{"e-13", "failed", "transform odd=failed: cannot parse e-13 | dead-letter=written"},
		{"e-20", "failed", "transform odd=kept | transform shape=changed | sink=failed: cannot [hidden] e-20 | dead-letter=written"},
	} {
		tr := one(tc.id)
		if string(tr.Outcome) != tc.outcome || steps(tr) != tc.steps {
			t.Errorf("%s: %s: %s\nwant %s: %s", tc.id, tr.Outcome, steps(tr), tc.outcome, tc.steps)
		}
	}
	for o, n := range map[trace.Outcome]int{trace.Delivered: 19, trace.Dropped: 19, trace.Failed: 2} {
		if got := len(rec.Traces("c", trace.Filter{Outcome: o})); got != n {
			t.Errorf("%s: %d traces, want %d", o, got, n)
		}
	}
}

func TestUnsampledFailuresAreTraced(t *testing.T) {
	t.Parallel()
	rec, err := tracedTask(t, 0, runtime.ToleranceAll)
	if err != nil {
		t.Fatal(err)
	}
	got := rec.Traces("c", trace.Filter{})
	var s []string
	for _, tr := range got {
		if tr.Sampled || tr.Outcome != trace.Failed || tr.Read.IsZero() {
			t.Errorf("%+v", tr)
		}
		s = append(s, tr.EventID+": "+steps(tr))
	}
	want := "e-20: sink=failed: cannot [hidden] e-20 | dead-letter=written\ne-13: transform odd=failed: cannot parse e-13 | dead-letter=written"
	if strings.Join(s, "\n") != want {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(s, "\n"), want)
	}
}

func TestToleranceNoneTracesTheFailure(t *testing.T) {
	t.Parallel()
	rec, err := tracedTask(t, 0, runtime.ToleranceNone)
	if err == nil {
		t.Fatal("the task did not fail")
	}
	got := rec.Traces("c", trace.Filter{Outcome: trace.Failed})
	if len(got) != 1 || got[0].EventID != "e-13" || steps(got[0]) != "transform odd=failed: cannot parse e-13" {
		t.Errorf("got %+v", got)
	}
}

// TestSlowTapNeverSlowsThePipeline: a tap nobody reads fills, loses
// events, and the task still moves every record.
func TestSlowTapNeverSlowsThePipeline(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, trace.Limits{TapBuffer: 4})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := rec.Tap(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	_, err = run(t, runtime.Config{Connector: "c", Source: &jsonSource{countSource{n: 20_000, batch: 100}}, Sink: sink,
		Committer: &memCommitter{}, Transforms: []runtime.NamedTransform{{Name: "shape", Transform: rewrite{}}}, Tracer: rec})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sink.IDs()); n != 20_000 {
		t.Fatalf("sink got %d", n)
	}
	var got []trace.TapEvent
	for range 4 {
		got = append(got, <-ch)
	}
	ev := got[0]
	if ev.EventID != "e-0" || ev.Outcome != trace.Delivered || len(ev.Stages) != 3 {
		t.Fatalf("first tap event %+v", ev)
	}
	if string(ev.Stages[0].After.Data) != `{"seq":0}` || ev.Stages[1].Decision != trace.Changed ||
		string(ev.Stages[1].After.Data) != `{"rewritten":true}` || ev.Stages[1].After.Extensions["step"] != "rewrite" ||
		ev.Stages[1].Before.Extensions["step"] != nil || ev.Stages[2].Decision != trace.Written {
		t.Errorf("stages %+v", ev.Stages)
	}
	select {
	case ev := <-ch:
		t.Errorf("a fifth event %s in a tap of 4", ev.EventID)
	default:
	}
	if rec.Traces("c", trace.Filter{}) != nil {
		t.Error("rate 0 without failures kept traces")
	}
}

func TestConfigRejectsHostileSampleRates(t *testing.T) {
	t.Parallel()
	for _, rate := range []float64{-0.001, 1.5, nanF(), infF()} {
		_, err := runtime.New(runtime.Config{Source: &countSource{}, Sink: &memSink{}, Committer: &memCommitter{}, TraceSampleRate: rate})
		if err == nil || !strings.Contains(err.Error(), "TraceSampleRate") {
			t.Errorf("rate %v: %v", rate, err)
		}
	}
}

func nanF() float64 { z := 0.0; return z / z }
func infF() float64 { z := 0.0; return 1 / z }
