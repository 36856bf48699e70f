package trace_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"go.uber.org/goleak"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime/trace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newRecorder(t *testing.T, lim trace.Limits) *trace.Recorder {
	t.Helper()
	r, err := trace.NewRecorder(lim)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func rec(id string) *api.Record {
	return &api.Record{Event: api.Event{ID: id, Source: "/s", Type: "t", Data: []byte(`{"n":1}`)}, Partition: "p", Position: api.Position(id)}
}

// finish records one delivered (sampled) or failed (unsampled) trace.
func finish(tt *trace.Task, id string, o trace.Outcome, at time.Time) {
	a := tt.Start(rec(id), at, o != trace.Failed, false)
	if o == trace.Failed {
		a.Fail(trace.StageSink, "", strings.Repeat("x", 5000), 2, at)
	}
	a.Finish(o, at)
}

func TestSampleIsAHashOfTheID(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, trace.Limits{})
	a, b := r.Task("a", 0, 0.25), r.Task("b", 3, 0.25)
	n := 0
	for i := range 200_000 {
		id := fmt.Sprintf("orders-%d", i)
		got := a.Sample(id)
		if got != b.Sample(id) {
			t.Fatalf("%s: tasks disagree", id)
		}
		if want := xxhash.Sum64String(id) < uint64(math.Ldexp(0.25, 64)); got != want {
			t.Fatalf("%s: Sample = %v, want %v", id, got, want)
		}
		if got {
			n++
		}
	}
	if share := float64(n) / 200_000; share < 0.245 || share > 0.255 {
		t.Errorf("sampled share %.4f, want 0.25±0.005", share)
	}
	none, all := r.Task("a", 0, 0), r.Task("a", 0, 1)
	for _, id := range []string{"", "x", "orders-1"} {
		if none.Sample(id) || !all.Sample(id) {
			t.Errorf("%q: rate 0 sampled or rate 1 did not", id)
		}
	}
}

func TestCheckSampleRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v  string
		ok bool
	}{
		{"0", true}, {"0.001", true}, {"1", true}, {"1e-9", true},
		{"NaN", false}, {"nan", false}, {"-0.1", false}, {"1.0000001", false}, {"2", false},
		{"Inf", false}, {"-Inf", false}, {"1e309", false}, {"", false}, {"0.5%", false}, {"½", false},
	} {
		if err := trace.CheckSampleRate(tc.v); (err == nil) != tc.ok {
			t.Errorf("CheckSampleRate(%q) = %v, want ok %v", tc.v, err, tc.ok)
		}
	}
}

func TestTracesNewestFirstThroughTheFilter(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, trace.Limits{})
	tt := r.Task("c", 0, 1)
	t0 := time.Unix(1000, 0)
	outcomes := []trace.Outcome{trace.Delivered, trace.Dropped, trace.Failed}
	for i := range 9 {
		finish(tt, fmt.Sprintf("e-%d", i), outcomes[i%3], t0.Add(time.Duration(i)*time.Second))
	}
	ids := func(ts []trace.Trace) string {
		var s []string
		for _, t := range ts {
			s = append(s, t.EventID)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		name string
		f    trace.Filter
		want string
	}{
		{"all", trace.Filter{}, "e-8,e-7,e-6,e-5,e-4,e-3,e-2,e-1,e-0"},
		{"limit", trace.Filter{Limit: 2}, "e-8,e-7"},
		{"event id", trace.Filter{EventID: "e-4"}, "e-4"},
		{"unknown id", trace.Filter{EventID: "nope"}, ""},
		{"failed", trace.Filter{Outcome: trace.Failed}, "e-8,e-5,e-2"},
		{"delivered since", trace.Filter{Outcome: trace.Delivered, Since: t0.Add(3 * time.Second)}, "e-6,e-3"},
		{"hostile limit", trace.Filter{Limit: -5}, "e-8,e-7,e-6,e-5,e-4,e-3,e-2,e-1,e-0"},
	} {
		if got := ids(r.Traces("c", tc.f)); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	if got := r.Traces("other", trace.Filter{}); got != nil {
		t.Errorf("unknown connector: %v", got)
	}
	// Returned traces are copies.
	got := r.Traces("c", trace.Filter{EventID: "e-8"})
	got[0].Steps[0].Error = "changed"
	if again := r.Traces("c", trace.Filter{EventID: "e-8"}); again[0].Steps[0].Error == "changed" {
		t.Error("a caller changed the stored trace")
	}
}

func TestBounds(t *testing.T) {
	t.Parallel()
	t.Run("per connector", func(t *testing.T) {
		t.Parallel()
		r := newRecorder(t, trace.Limits{PerConnector: 3})
		tt := r.Task("c", 0, 1)
		for i := range 10 {
			finish(tt, fmt.Sprint(i), trace.Delivered, time.Now())
		}
		if got := r.Traces("c", trace.Filter{}); len(got) != 3 || got[0].EventID != "9" || got[2].EventID != "7" {
			t.Errorf("got %v, want the newest 3", got)
		}
		if s := r.Stats(); s.Traces != 3 {
			t.Errorf("Stats = %+v", s)
		}
	})
	t.Run("worker count shared", func(t *testing.T) {
		t.Parallel()
		r := newRecorder(t, trace.Limits{MaxTraces: 10, PerConnector: 10})
		a, b := r.Task("a", 0, 1), r.Task("b", 0, 1)
		for i := range 10 {
			finish(a, fmt.Sprint(i), trace.Delivered, time.Now())
		}
		for i := range 4 {
			finish(b, fmt.Sprint(i), trace.Delivered, time.Now())
		}
		// b's traces take the room of a's oldest: a held more than its share.
		na, nb := len(r.Traces("a", trace.Filter{})), len(r.Traces("b", trace.Filter{}))
		if na != 6 || nb != 4 || r.Stats().Traces != 10 {
			t.Errorf("a %d, b %d, stats %+v; want 6, 4, 10", na, nb, r.Stats())
		}
		// b cannot push a below its share: past it, b's own oldest go.
		for i := range 20 {
			finish(b, fmt.Sprint(100+i), trace.Delivered, time.Now())
		}
		na, nb = len(r.Traces("a", trace.Filter{})), len(r.Traces("b", trace.Filter{}))
		if na != 5 || nb != 5 {
			t.Errorf("a %d, b %d; want 5, 5", na, nb)
		}
	})
	t.Run("worker bytes", func(t *testing.T) {
		t.Parallel()
		r := newRecorder(t, trace.Limits{MaxBytes: trace.MinBytes, MaxTraces: 100_000, PerConnector: 100_000})
		tt := r.Task("c", 0, 0)
		for i := range 5000 {
			// Unsampled failures with 5 KB errors and a 10 KB id: clipped.
			a := tt.Start(rec(strings.Repeat("é", 5000)+fmt.Sprint(i)), time.Now(), false, false)
			a.Fail(trace.StageTransform, strings.Repeat("n", 1000), strings.Repeat("x", 5000), 0, time.Now())
			a.Finish(trace.Failed, time.Now())
		}
		s := r.Stats()
		if s.Bytes > trace.MinBytes || s.Traces < 100 || s.Traces >= 5000 {
			t.Errorf("Stats = %+v, want at most %d bytes and between 100 and 5000 traces", s, trace.MinBytes)
		}
		tr := r.Traces("c", trace.Filter{Limit: 1})[0]
		for _, f := range []string{tr.EventID, tr.Steps[0].Name, tr.Steps[0].Error} {
			if len(f) > 1024 || !utf8.ValidString(f) || !strings.HasSuffix(f, "…") {
				t.Errorf("field of %d bytes not clipped to valid UTF-8: %.40q", len(f), f)
			}
		}
	})
	t.Run("forget", func(t *testing.T) {
		t.Parallel()
		r := newRecorder(t, trace.Limits{})
		finish(r.Task("c", 0, 1), "x", trace.Delivered, time.Now())
		r.Forget("c")
		if got := r.Traces("c", trace.Filter{}); len(got) != 0 || r.Stats().Traces != 0 || r.Stats().Bytes != 0 {
			t.Errorf("after Forget: %v, %+v", got, r.Stats())
		}
	})
}

func TestLimitsValidate(t *testing.T) {
	t.Parallel()
	for _, lim := range []trace.Limits{
		{MaxBytes: 1}, {MaxBytes: trace.MinBytes - 1}, {MaxBytes: 1 << 40}, {MaxTraces: math.MaxInt},
		{TapBuffer: 1 << 30}, {MaxTaps: math.MaxInt32},
	} {
		if _, err := trace.NewRecorder(lim); err == nil {
			t.Errorf("NewRecorder(%+v) accepted", lim)
		}
	}
	if _, err := trace.NewRecorder(trace.Limits{MaxTraces: -1, PerConnector: -1}); err != nil {
		t.Errorf("negative counts take the defaults: %v", err)
	}
}

func TestTransformDecisions(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, trace.Limits{})
	tt := r.Task("c", 0, 1)
	x := rec("e")
	x.Event.Extensions = map[string]any{"k": "v"}
	a := tt.Start(x, time.Now(), true, true)
	a.Transform("same", x, true, time.Now())
	x.Event.Extensions["k"] = "w" // changed in place, as SMTs do
	a.Transform("ext", x, true, time.Now())
	x.Event.Data = []byte(`{"n":2}`)
	a.Transform("data", x, true, time.Now())
	a.Transform("filter", x, false, time.Now())
	a.Drop(time.Now())
	a.Deliver(time.Now()) // ignored: the trace ended
	got := r.Traces("c", trace.Filter{})
	if len(got) != 1 {
		t.Fatalf("%d traces", len(got))
	}
	var d []string
	for _, s := range got[0].Steps {
		d = append(d, s.Name+"="+string(s.Decision))
	}
	if strings.Join(d, " ") != "same=kept ext=changed data=changed filter=dropped" || got[0].Outcome != trace.Dropped {
		t.Errorf("steps %v, outcome %s", d, got[0].Outcome)
	}
}

func TestTap(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, trace.Limits{TapBuffer: 2, MaxTaps: 1})
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := r.Tap(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Tap(context.Background(), "c"); !errors.Is(err, trace.ErrTooManyTaps) {
		t.Fatalf("second tap: %v, want ErrTooManyTaps", err)
	}
	tt := r.Task("c", 0, 0)
	if got := tt.TapRoom(); got != 2 {
		t.Fatalf("TapRoom = %d, want 2", got)
	}
	for i := range 5 { // nobody reads: 2 fit, 3 are lost
		x := rec(fmt.Sprint(i))
		a := tt.Start(x, time.Now(), false, true)
		x.Event.Data = []byte(`{"n":2}`)
		a.Transform("shape", x, true, time.Now())
		a.Written(0, time.Now())
		a.Deliver(time.Now())
	}
	if got := tt.TapRoom(); got != 0 {
		t.Errorf("TapRoom = %d with a full tap", got)
	}
	ev := <-ch
	if ev.EventID != "0" || ev.Outcome != trace.Delivered || len(ev.Stages) != 3 {
		t.Fatalf("first tap event %+v", ev)
	}
	src, shape, sink := ev.Stages[0], ev.Stages[1], ev.Stages[2]
	if src.Stage != trace.StageSource || src.After == nil || string(src.After.Data) != `{"n":1}` ||
		string(shape.Before.Data) != `{"n":1}` || string(shape.After.Data) != `{"n":2}` || shape.Decision != trace.Changed ||
		sink.Stage != trace.StageSink || string(sink.Before.Data) != `{"n":2}` || sink.After != nil {
		t.Errorf("stages %+v / %+v / %+v", src, shape, sink)
	}
	<-ch
	// The next event delivered says how many were lost.
	a := tt.Start(rec("last"), time.Now(), false, true)
	a.Deliver(time.Now())
	if ev := <-ch; ev.EventID != "last" || ev.Missed != 3 {
		t.Errorf("got %s missed %d, want last missed 3", ev.EventID, ev.Missed)
	}
	if r.Traces("c", trace.Filter{}) != nil {
		t.Error("tapped, unsampled, delivered events were kept as traces")
	}
	cancel()
	for range ch { // closed once ctx ends
	}
	if _, err := r.Tap(context.Background(), "c"); err != nil {
		t.Errorf("tap after the first ended: %v", err)
	}
}

// BenchmarkSample is the per-event cost of the sampling decision at the
// default rate (an id as long as a UUID).
func BenchmarkSample(b *testing.B) {
	r, _ := trace.NewRecorder(trace.Limits{})
	tt := r.Task("orders-to-warehouse-0007", 0, trace.DefaultSampleRate)
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprintf("orders-to-warehouse-0007-0-%07d", i)
	}
	n := 0
	b.ResetTimer()
	for i := range b.N {
		if tt.Sample(ids[i%len(ids)]) {
			n++
		}
	}
	_ = n
}

// TestTracesDoNotHoldTheSourcesMemory: a source may cut every id of a
// batch from one string (the generator does); a kept trace must copy its
// strings, or 1,024 traces would hold 1,024 batches' ids.
func TestTracesDoNotHoldTheSourcesMemory(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, trace.Limits{})
	batch := strings.Repeat("orders-0-1234567", 1<<14)
	x := rec(batch[:16])
	x.Partition = batch[16:22]
	a := r.Task("c", 0, 1).Start(x, time.Now(), true, false)
	a.Deliver(time.Now())
	tr := r.Traces("c", trace.Filter{})[0]
	lo := uintptr(unsafe.Pointer(unsafe.StringData(batch)))
	for _, f := range []string{tr.EventID, tr.Partition} {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(f))); p >= lo && p < lo+uintptr(len(batch)) {
			t.Errorf("%q shares the source's string", f)
		}
	}
}
