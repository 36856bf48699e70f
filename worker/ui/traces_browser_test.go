package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime/trace"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
)

// refusePlugin is a transform ("refuse") that fails every generator event
// whose seq ends in 7, so a connector has failed events to trace.
var refusePlugin = api.TransformPlugin{Name: "refuse",
	New: func(api.Config) (api.Transform, error) { return refuse{}, nil }}

type refuse struct{}

func (refuse) Apply(r *api.Record) (bool, error) {
	var d struct{ Seq int }
	if err := json.Unmarshal(r.Event.Data, &d); err != nil {
		return false, err
	}
	if d.Seq%10 == 7 {
		return false, fmt.Errorf("seq %d is not welcome", d.Seq)
	}
	return true, nil
}

// tracedView serves a standalone worker's traces as a cluster member
// whose peer w2 did not answer (its traces list w2 as unreached), and
// counts the live taps open on it. The first event of every tap it serves
// reports 3 events missed, as the worker reports those a slow reader lost.
type tracedView struct {
	*worker.Standalone
	taps   *atomic.Int64 // open now
	opened *atomic.Int64 // ever
}

func (v tracedView) Traces(ctx context.Context, name string, f trace.Filter) (worker.TracesInfo, error) {
	info, err := v.Standalone.Traces(ctx, name, f)
	if err == nil {
		info.Unreached = []string{"w2"}
	}
	return info, err
}

func (v tracedView) Tap(ctx context.Context, name string) (<-chan trace.TapEvent, error) {
	in, err := v.Standalone.Tap(ctx, name)
	if err != nil {
		return nil, err
	}
	v.taps.Add(1)
	v.opened.Add(1)
	out := make(chan trace.TapEvent)
	go func() {
		defer v.taps.Add(-1)
		defer close(out)
		first := true
		for ev := range in { // in closes when ctx ends
			if first {
				ev.Missed += 3
				first = false
			}
			select {
			case out <- ev:
			case <-ctx.Done():
			}
		}
	}()
	return out, nil
}

// TestDashboardTracesAndTap opens the page of a connector whose filter
// drops some events and whose transform fails others, every event traced:
// the traces panel lists a dropped and a failed event with their reasons,
// marks them, opens one to its steps, filters by outcome and finds an event
// by id, and warns of the worker that did not answer. The live tap streams
// events with each stage's before and after, shows the worker's missed
// count, keeps at most 200 events, opens the stream again when the worker
// ends it at its request timeout (3 s here), and ends it when stopped and
// when the page is left.
func TestDashboardTracesAndTap(t *testing.T) {
	ctx, problems := browser(t)
	var taps, opened atomic.Int64
	tw := startWorkerWith(t, workerOptions{
		serve:          func(w *worker.Standalone) worker.Controller { return tracedView{w, &taps, &opened} },
		requestTimeout: 3 * time.Second,
	})
	dir := t.TempDir()
	tw.create(t, "traced", state.TargetRunning,
		"source", "generator", "source.rate", "40",
		"transforms", "keep,bad,shape",
		// Drops the events whose id ends in 5: seq 5, 15, 25, …
		"transforms.keep.type", "filter", "transforms.keep.pattern", `{"id":[{"anything-but":{"suffix":"5"}}]}`,
		"transforms.bad.type", "refuse",
		"transforms.shape.type", "template", "transforms.shape.form", "TEMPLATE",
		"transforms.shape.value", `{"seq": "$.data.seq"}`, "transforms.shape.template", `{"n": ${seq}}`,
		"sink", "file", "sink.path", filepath.Join(dir, "out.jsonl"),
		"errors.tolerance", "all",
		"errors.deadletterqueue.sink", "file", "errors.deadletterqueue.sink.path", filepath.Join(dir, "dead.jsonl"),
		"trace.sample.rate", "1")
	traced := func(o trace.Outcome) []trace.Trace {
		info, err := tw.w.Traces(context.Background(), "traced", trace.Filter{Outcome: o, Limit: 1})
		if err != nil {
			t.Fatalf("traces: %v", err)
		}
		return info.Traces
	}
	eventually(t, "a dropped and a failed trace", func() bool {
		return len(traced(trace.Dropped)) > 0 && len(traced(trace.Failed)) > 0 && len(traced(trace.Delivered)) > 0
	})

	p := &page{t: t, ctx: ctx, dir: screenshotDir(t)}
	p.do("open /ui/", chromedp.Navigate(tw.base+"/ui/?refresh=1"))
	p.eval(fmt.Sprintf(`sessionStorage.setItem('ferry.token', %q), location.hash = '#/c/traced', true`, readToken), new(bool))
	p.do("reload with the token", chromedp.Reload())
	p.waitFor("a dropped and a failed trace",
		`document.querySelector('#trace-list [data-outcome="dropped"]') && document.querySelector('#trace-list [data-outcome="failed"]')`)

	// The reasons, marked.
	var rows []struct{ ID, Outcome, Class, Badge, Reason string }
	p.eval(`[...document.querySelectorAll('#trace-list details')].map(d => ({ID: d.dataset.event, Outcome: d.dataset.outcome,
		Class: d.className, Badge: d.querySelector('.badge').textContent, Reason: d.querySelector('.ev-reason').textContent}))`, &rows)
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.Outcome] = true
		var want string
		switch r.Outcome {
		case "dropped":
			want = "dropped by keep"
		case "failed":
			var seq int
			fmt.Sscanf(r.ID[strings.LastIndex(r.ID, "-")+1:], "%d", &seq)
			want = fmt.Sprintf("transform bad: seq %d is not welcome → dead-lettered", seq)
		case "delivered":
			want = "written"
		}
		if r.Reason != want || r.Badge != strings.ToUpper(r.Outcome) || !strings.Contains(r.Class, "o-"+r.Outcome) {
			t.Errorf("trace %s shown as %+v, want the reason %q, marked %s", r.ID, r, want, r.Outcome)
		}
	}
	if !seen["dropped"] || !seen["failed"] || !seen["delivered"] {
		t.Errorf("outcomes listed %v, want each", seen)
	}
	if w := p.text("#traces-unreached"); !strings.Contains(w, "w2") || !strings.Contains(w, "did not answer") {
		t.Errorf("unreached warning %q", w)
	}

	// A failed trace opens to its steps, and stays open across refreshes.
	p.click(`#trace-list details[data-outcome="failed"] summary`)
	p.waitForRefresh()
	var steps [][]string
	p.eval(`[...document.querySelectorAll('#trace-list details[data-outcome="failed"][open] table.steps tr')].map(r => [...r.cells].slice(1, 3).map(c => c.textContent))`, &steps)
	wantSteps := [][]string{{"source", "read"}, {"transform keep", "kept"}, {"transform bad", "failed"}, {"dead-letter", "written"}}
	if fmt.Sprint(steps) != fmt.Sprint(wantSteps) {
		t.Errorf("the failed trace's steps %v, want %v", steps, wantSteps)
	}
	if e := p.text(`#trace-list details[data-outcome="failed"][open] .step-error`); !strings.Contains(e, "is not welcome") {
		t.Errorf("the failed step's error %q", e)
	}
	// A refresh keeps how far the list is scrolled.
	p.eval(`document.getElementById('trace-list').scrollTop = 200, true`, new(bool))
	p.waitForRefresh()
	var scrolled float64
	if p.eval(`document.getElementById('trace-list').scrollTop`, &scrolled); scrolled != 200 {
		t.Errorf("the trace list scrolled to %v after a refresh, want 200", scrolled)
	}
	p.eval(`document.getElementById('trace-list').scrollTop = 0, true`, new(bool))

	// For the screenshot, the newest failed event open on top.
	p.eval(`document.querySelector('#trace-list details[data-outcome="failed"]').open = true`, new(bool))
	p.shotOf("07-traces", "#traces")

	// Only the dropped ones.
	p.eval(`(() => { const s = document.getElementById('trace-outcome'); s.value = 'dropped'; s.dispatchEvent(new Event('change')); return true })()`, new(bool))
	p.waitFor("only dropped traces", `(() => { const l = [...document.querySelectorAll('#trace-list details')];
		return l.length > 0 && l.every(d => d.dataset.outcome === 'dropped') })()`)

	// Found by id: a delivered event, with each step up to the sink.
	id := traced(trace.Delivered)[0].EventID
	p.eval(`(() => { const s = document.getElementById('trace-outcome'); s.value = ''; s.dispatchEvent(new Event('change')); return true })()`, new(bool))
	p.eval(`document.getElementById('trace-search').focus(), true`, new(bool))
	p.do("type an event id", chromedp.KeyEvent(id))
	p.waitFor("one trace, by id", fmt.Sprintf(`(() => { const l = document.querySelectorAll('#trace-list details');
		return l.length === 1 && l[0].dataset.event === %q })()`, id))
	p.click(`#trace-list details summary`)
	var found []string
	p.eval(`[...document.querySelectorAll('#trace-list details[open] table.steps tr')].map(r => r.cells[1].textContent + ' ' + r.cells[2].textContent)`, &found)
	if want := []string{"source read", "transform keep kept", "transform bad kept", "transform shape changed", "sink written"}; fmt.Sprint(found) != fmt.Sprint(want) {
		t.Errorf("the steps of %s: %v, want %v", id, found, want)
	}
	p.eval(`document.getElementById('trace-search').focus(), true`, new(bool))
	p.do("type more", chromedp.KeyEvent("x"))
	p.waitFor("no trace of an unknown id", `document.getElementById('traces-empty')?.textContent.includes('No trace of event')`)
	p.eval(`(() => { const s = document.getElementById('trace-search'); s.value = ''; s.dispatchEvent(new Event('input')); return true })()`, new(bool))

	// The live tap: events arrive, each stage with its before and after.
	p.click("#tap-toggle")
	p.mouseAway()
	p.waitFor("tap events", `document.querySelectorAll('#tap-events details').length >= 5 && document.getElementById('tap-toggle').textContent === 'Stop'`)
	if n := taps.Load(); n != 1 {
		t.Errorf("%d taps open on the worker, want 1", n)
	}
	p.waitFor("the missed count", `document.getElementById('tap-missed').textContent === 'Missed 3'`)
	p.waitFor("a failed tap event", `document.querySelector('#tap-events details[data-outcome="failed"]')`)
	if s := p.text(`#tap-events details[data-outcome="failed"] .ev-stages`); s != "source read → keep kept → bad failed → dead-letter written" {
		t.Errorf("a failed tap event's stages %q", s)
	}
	p.eval(`(() => { const d = document.querySelector('#tap-events details[data-outcome="delivered"]'); d.open = true; return true })()`, new(bool))
	p.waitFor("the stages' events", `document.querySelectorAll('#tap-events details[open] .tap-stage').length === 5`)
	var stages []struct{ Head, Before, After string }
	p.eval(`[...document.querySelectorAll('#tap-events details[open] .tap-stage')].map(s => {
		const d = [...s.querySelectorAll('.tap-data > div')];
		const part = (name) => { const x = d.find(e => e.firstChild.textContent === name); return x ? x.lastChild.textContent : '' };
		return {Head: s.querySelector('.tap-stage-head strong').textContent, Before: part('before'), After: part('after')} })`, &stages)
	if len(stages) == 5 {
		if s := stages[0]; s.Head != "source" || s.Before != "" || !strings.Contains(s.After, `"seq":`) {
			t.Errorf("the source stage: %+v", s)
		}
		if s := stages[2]; s.Head != "transform bad" || !strings.Contains(s.Before, `"seq":`) || s.After != "unchanged" {
			t.Errorf("a transform that kept the event: %+v", s)
		}
		if s := stages[3]; s.Head != "transform shape" || !strings.Contains(s.Before, `"seq":`) || !strings.Contains(s.After, `"n":`) {
			t.Errorf("a transform that changed the event: %+v", s)
		}
	}
	p.eval(`document.querySelector('#tap-events details[open]').open = false, true`, new(bool))

	// While the pointer moves over the list, new events wait, so the one
	// under it stays put; they come when it leaves. The page's refreshes
	// leave the panel in the document (taken out, it would lose the
	// pointer and never see it leave).
	p.eval(`window.tapRemoved = 0, new MutationObserver((ms) => { for (const m of ms) for (const n of m.removedNodes) if (n.id === 'tap') window.tapRemoved++ })
		.observe(document.getElementById('main'), {childList: true}), true`, new(bool))
	p.mouseOver(`#tap-events details:nth-child(3) summary`)
	p.waitFor("events held", `/^[0-9]+ new held$/.test(document.getElementById('tap-held').textContent)`)
	top := p.text(`#tap-events details:first-child .ev-id`)
	p.waitForRefresh()
	time.Sleep(300 * time.Millisecond) // a dozen events, three draws
	if now := p.text(`#tap-events details:first-child .ev-id`); now != top {
		t.Errorf("the list moved under the pointer: %s on top, was %s", now, top)
	}
	var removed int
	if p.eval(`window.tapRemoved`, &removed); removed != 0 {
		t.Errorf("a refresh took the tap panel out of the page %d times", removed)
	}
	p.mouseAway()
	p.waitFor("held events drawn", fmt.Sprintf(`document.querySelector('#tap-events details').dataset.event !== %q && document.getElementById('tap-held').classList.contains('hidden')`, top))

	// The worker ends the stream at its request timeout; the page opens
	// it again, and the missed count adds the new stream's.
	p.waitFor("the stream opened again", `Number(document.getElementById('tap').dataset.streams) >= 2 && document.getElementById('tap').dataset.running === '1'`)
	p.waitFor("the missed count of both streams", `Number(document.getElementById('tap-missed').textContent.split(' ')[1]) >= 6`)
	// A bounded list however long it runs (40 events/s: 200 in 5 s).
	p.waitFor("more than 200 events received", `parseInt(document.getElementById('tap-count').textContent) > 250`)
	var shown int
	p.eval(`document.querySelectorAll('#tap-events details').length`, &shown)
	if shown != 200 {
		t.Errorf("%d tap events shown, want the newest 200", shown)
	}
	p.eval(`document.querySelector('#tap-events details[data-outcome="delivered"]').open = true`, new(bool))
	p.shotOf("08-live-tap", "#tap")

	p.click("#tap-toggle")
	p.waitFor("the tap stopped", `document.getElementById('tap-toggle').textContent === 'Start' && document.getElementById('tap-status').textContent === 'stopped'`)
	// No tap open on the worker, and none opened again (when the worker ends
	// a stream, the page opens another at once).
	tapsClosed := func(after string) {
		t.Helper()
		eventually(t, "the worker's tap closed after "+after, func() bool { return taps.Load() == 0 })
		n := opened.Load()
		time.Sleep(500 * time.Millisecond)
		if taps.Load() != 0 || opened.Load() != n {
			t.Errorf("after %s: %d taps open on the worker, %d opened in the last 0.5 s", after, taps.Load(), opened.Load()-n)
		}
	}
	tapsClosed("Stop")
	count := p.text("#tap-count")
	time.Sleep(500 * time.Millisecond)
	if after := p.text("#tap-count"); after != count {
		t.Errorf("events still arrive after Stop: %q then %q", count, after)
	}

	// Leaving the page ends the stream too.
	p.click("#tap-toggle")
	p.mouseAway()
	p.waitFor("the tap running again", `document.getElementById('tap-status').textContent.startsWith('streaming')`)
	eventually(t, "a tap open on the worker", func() bool { return taps.Load() == 1 })
	p.eval(`location.hash = '#/', true`, new(bool))
	p.waitFor("the overview", `document.querySelectorAll('#connectors tbody tr').length === 1`)
	tapsClosed("leaving the page")

	if ps := problems(); len(ps) > 0 {
		t.Errorf("the page had script errors or policy violations:\n%s", strings.Join(ps, "\n"))
	}
}

// mouseOver moves the mouse to the middle of the element.
func (p *page) mouseOver(sel string) {
	p.t.Helper()
	xy := p.center(sel)
	p.do("move the mouse over "+sel, chromedp.MouseEvent(chromedp.MouseMoved, xy[0], xy[1]))
}

// mouseAway moves the mouse to the page's top left corner, over nothing
// that reacts.
func (p *page) mouseAway() {
	p.t.Helper()
	p.do("move the mouse away", chromedp.MouseEvent(chromedp.MouseMoved, 1, 1))
}
