package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/drop"
	"github.com/ferryhq/ferry/connectors/file"
	"github.com/ferryhq/ferry/connectors/generator"
	httpc "github.com/ferryhq/ferry/connectors/http"
	"github.com/ferryhq/ferry/connectors/kafka"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/transform"
	"github.com/ferryhq/ferry/transform/predicate"
	"github.com/ferryhq/ferry/transform/smt"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
)

// The tokens the test worker accepts (docs/security.md: at least 16
// characters).
const (
	adminToken = "ui-test-admin-token-4c1d0a8f3e9b"
	readToken  = "ui-test-read-token-7f3e9b27d6a5"
)

// chromiumPath finds a Chromium to drive: $FERRY_CHROMIUM, else Debian's
// chromium on PATH. Without one the test skips, or fails with CI=true so a
// CI run cannot pass without the browser test having run.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FERRY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found (apt-get install chromium; deploy/testbed/testbed.sh up installs it), or set FERRY_CHROMIUM"
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// testWorker is a standalone worker over a memory store with real
// plugins, serving the REST API (and so the dashboard) with token
// authentication on a free loopback port.
type testWorker struct {
	w    *worker.Standalone
	base string // http://127.0.0.1:port
}

func startWorker(t *testing.T) *testWorker {
	t.Helper()
	return startWorkerAs(t, func(w *worker.Standalone) worker.Controller { return w })
}

// startWorkerAs serves the worker through the Controller serve returns.
func startWorkerAs(t *testing.T, serve func(*worker.Standalone) worker.Controller) *testWorker {
	t.Helper()
	return startWorkerWith(t, workerOptions{serve: serve})
}

// workerOptions vary the test worker.
type workerOptions struct {
	serve          func(*worker.Standalone) worker.Controller // what the REST API serves
	requestTimeout time.Duration                              // the REST server's RequestTimeout; 0 is its default
}

func startWorkerWith(t *testing.T, opts workerOptions) *testWorker {
	t.Helper()
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte(adminToken+" admin\n"+readToken+" read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := worker.New(worker.Config{
		WorkerID: "ui-test",
		Store:    state.NewMemory(),
		Registry: worker.Registry{
			Sources:       []api.SourcePlugin{generator.Source, kafka.Source},
			Sinks:         []api.SinkPlugin{file.Sink, drop.Sink, httpc.Sink},
			Transforms:    append(append(transform.Plugins(), smt.Plugins()...), refusePlugin),
			Predicates:    predicate.Plugins(),
			PredicateWrap: predicate.Wrap,
		},
		Logger: logger,
		// A failed task stays FAILED, so the page has one to show.
		Restart: worker.RestartPolicy{Disabled: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rest.New(rest.Config{
		Addr: "127.0.0.1:0", Controller: opts.serve(w), Version: "ui-test", Logger: logger,
		Auth:           rest.AuthConfig{Mode: rest.AuthToken, TokensFile: tokens},
		RequestTimeout: opts.requestTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.Run(ctx); err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	served := make(chan error, 1)
	wg.Go(func() { served <- srv.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-srv.Ready():
	case err := <-served:
		t.Fatalf("REST server: %v", err)
	}
	return &testWorker{w: w, base: "http://" + srv.Addr()}
}

func (tw *testWorker) create(t *testing.T, name string, initial state.TargetState, kv ...string) {
	t.Helper()
	cfg := map[string]string{"name": name}
	for i := 0; i+1 < len(kv); i += 2 {
		cfg[kv[i]] = kv[i+1]
	}
	if _, err := tw.w.CreateConnector(context.Background(), name, cfg, initial); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

// condition is the state the dashboard derives for a connector, from the
// worker's own status: FAILED, RETRYING or the connector's state.
func (tw *testWorker) condition(t *testing.T, name string) string {
	t.Helper()
	st, err := tw.w.ConnectorStatus(context.Background(), name)
	if err != nil {
		return "ERROR: " + err.Error()
	}
	for _, task := range st.Tasks {
		if task.State == "FAILED" {
			return "FAILED"
		}
	}
	for _, task := range st.Tasks {
		if task.Health == worker.HealthRetrying {
			return "RETRYING"
		}
	}
	return st.Connector.State
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// backlog starts an in-process Kafka (franz-go's kfake) holding n records
// in topic, so a kafka source reading it reports its lag.
func backlog(t *testing.T, topic string, n int) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// One record a produce request, so each is a record batch of its own:
	// a fetch returns whole batches, and the source's small fetch size
	// below then brings few records at a time, leaving the rest as lag.
	for i := range n {
		rec := &kgo.Record{Value: fmt.Appendf(nil, `{"order":%d}`, i)}
		if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return c.ListenAddrs()
}

// browser starts headless Chromium and returns a tab's context. Script
// exceptions and Content-Security-Policy violations the page causes are
// collected; problems() reports them.
func browser(t *testing.T) (ctx context.Context, problems func() []string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // tests may run as root, where Chromium's sandbox refuses to start
		chromedp.WindowSize(1400, 1000),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	var mu sync.Mutex
	var seen []string
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				msg = "console.error"
			}
		case *log.EventEntryAdded:
			// Failed API calls (401, 403) are logged too and are expected;
			// a refused script, style or connection is not.
			if strings.Contains(ev.Entry.Text, "Content Security Policy") || strings.Contains(ev.Entry.Text, "Refused to") {
				msg = "log: " + ev.Entry.Text
			}
		}
		if msg != "" {
			mu.Lock()
			seen = append(seen, msg)
			mu.Unlock()
		}
	}))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// page drives one tab with a per-step timeout and fails the test on error.
type page struct {
	t   *testing.T
	ctx context.Context
	dir string // screenshots
}

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		p.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression into out.
func (p *page) eval(expr string, out any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		p.t.Fatalf("evaluate %s: %v (%s)", expr, err, raw)
	}
}

// waitFor polls a JavaScript predicate until it holds.
func (p *page) waitFor(what, predicate string) {
	p.t.Helper()
	p.do("wait for "+what, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(20*time.Second)))
}

// pressAcrossRefresh presses the mouse on the element, waits for the page
// to refresh its data, then releases.
func (p *page) pressAcrossRefresh(sel string) {
	p.t.Helper()
	xy := p.center(sel)
	p.do("press "+sel, chromedp.MouseEvent(chromedp.MousePressed, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1)))
	p.waitForRefresh()
	p.do("release "+sel, chromedp.MouseEvent(chromedp.MouseReleased, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1)))
}

// center scrolls the element into view and returns its middle, in the
// viewport's coordinates.
func (p *page) center(sel string) (xy [2]float64) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.scrollIntoView({block: 'center'});
		const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2] })()`, sel), &xy)
	return xy
}

// waitForRefresh waits until the page has loaded its data again.
func (p *page) waitForRefresh() {
	p.t.Helper()
	before := p.text("#refreshed")
	p.waitFor("a refresh", fmt.Sprintf(`document.getElementById('refreshed').textContent !== %q`, before))
}

func (p *page) text(sel string) string {
	p.t.Helper()
	var s string
	p.eval(fmt.Sprintf(`(document.querySelector(%q) || {textContent: ''}).textContent`, sel), &s)
	return s
}

// click clicks the element with the mouse. The page re-renders at each
// refresh (every second here), which can replace the element between
// finding it and pressing on it; that is retried a few times.
func (p *page) click(sel string) {
	p.t.Helper()
	var err error
	for range 5 {
		ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
		err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
		cancel()
		if err == nil {
			return
		}
	}
	p.shot("failed-click")
	p.t.Fatalf("click %s: %v", sel, err)
}

// shot saves a screenshot of the whole page as NAME.png.
func (p *page) shot(name string) {
	p.t.Helper()
	p.shotOf(name, "")
}

// shotOf saves a screenshot of the element sel, or of the whole page when
// sel is "", as NAME.png.
func (p *page) shotOf(name, sel string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	// A toast from an earlier action would cover the page.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById('flash').classList.add('hidden')`)); err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
	}
	capture := chromedp.FullScreenshot(100)
	if sel != "" {
		capture = chromedp.Screenshot(chromedp.CSS(sel), chromedp.NodeVisible)
	}
	png, err := chromedp.Run(ctx, capture)
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(p.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p.t.Logf("screenshot %s", path)
}

// useToken pastes a token into the page's token form.
func (p *page) useToken(token string) {
	p.t.Helper()
	p.eval(`document.getElementById('token-form').classList.contains('hidden') && document.getElementById('token-toggle').click(), true`, new(bool))
	p.do("paste token", chromedp.SetValue(chromedp.CSS("#token-input"), token), chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)))
}

// rowStates is the connectors table as the page shows it: name → state,
// in the page's order.
func (p *page) rowStates() (names []string, states map[string]string) {
	p.t.Helper()
	var rows [][2]string
	p.eval(`[...document.querySelectorAll('#connectors tbody tr')].map(r => [r.dataset.name, r.dataset.state])`, &rows)
	states = map[string]string{}
	for _, r := range rows {
		names = append(names, r[0])
		states[r[0]] = r[1]
	}
	return names, states
}

func screenshotDir(t *testing.T) string {
	if d := os.Getenv("FERRY_UI_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDashboardInBrowser opens the dashboard in headless Chromium against
// a worker that requires tokens and runs connectors in every state the
// overview must tell apart, then checks what it shows and drives it as an
// operator would: a read token sees data but may not act, an admin token
// pauses a connector, stops it and resets its offsets, and deletes
// another after typing its name. Screenshots go to the test's artifact
// directory (go test -artifacts) or $FERRY_UI_SCREENSHOTS.
func TestDashboardInBrowser(t *testing.T) {
	ctx, problems := browser(t)
	tw := startWorker(t)
	dead := closedPort(t)
	tw.create(t, "orders", state.TargetRunning,
		"source", "generator", "source.rate", "40", "tasks.max", "2",
		"transforms", "onlyEven,shape",
		"transforms.onlyEven.type", "filter", "transforms.onlyEven.pattern", `{"data":{"seq":[{"numeric":[">",0]}]}}`,
		"transforms.shape.type", "template", "transforms.shape.form", "ORIGINAL",
		"sink", "file", "sink.path", filepath.Join(t.TempDir(), "orders.jsonl"),
		"errors.tolerance", "all", "errors.deadletterqueue.sink", "file",
		"errors.deadletterqueue.sink.path", filepath.Join(t.TempDir(), "orders-dead.jsonl"),
		"offset.flush.interval.ms", "100")
	tw.create(t, "audit", state.TargetRunning, "source", "generator", "source.rate", "20", "sink", "drop",
		"offset.flush.interval.ms", "100")
	tw.create(t, "idle", state.TargetPaused, "source", "generator", "sink", "drop")
	tw.create(t, "archived", state.TargetStopped, "source", "generator", "sink", "drop")
	hook := fmt.Sprintf("http://127.0.0.1:%d/hook", dead)
	tw.create(t, "hook-retrying", state.TargetRunning, "source", "generator", "source.rate", "5", "sink", "http",
		"sink.url", hook, "errors.retry.timeout", "-1", "errors.retry.delay.max.ms", "200")
	tw.create(t, "hook-failed", state.TargetRunning, "source", "generator", "source.rate", "5", "sink", "http",
		"sink.url", hook, "errors.retry.timeout", "0")
	// A kafka source whose sink is down: it read what its buffer holds
	// and waits, so it reports the rest of the topic as its lag.
	tw.create(t, "events-backlog", state.TargetRunning, "source", "kafka",
		"source.brokers", strings.Join(backlog(t, "events", 300), ","), "source.topics", "events",
		"source.fetch.partition.max.bytes", "1024", "source.fetch.max.bytes", "1024", "batch.size", "10", "buffer.max.records", "20",
		"sink", "http", "sink.url", hook, "errors.retry.timeout", "-1", "errors.retry.delay.max.ms", "200")
	want := map[string]string{"orders": "RUNNING", "audit": "RUNNING", "idle": "PAUSED", "archived": "STOPPED",
		"hook-retrying": "RETRYING", "hook-failed": "FAILED", "events-backlog": "RETRYING"}
	eventually(t, "the connectors' states and the backlog's lag", func() bool {
		for name, state := range want {
			if tw.condition(t, name) != state {
				return false
			}
		}
		ts, err := tw.w.TaskStatus(context.Background(), "events-backlog", 0)
		return err == nil && ts.Lag["events-0"] > 0
	})

	p := &page{t: t, ctx: ctx, dir: screenshotDir(t)}
	// refresh=1: sample every second, so the rates show within the test.
	p.do("open /ui/", chromedp.Navigate(tw.base+"/ui/?refresh=1"))

	// Without a token the page loads (it holds no data) but the API
	// answers 401: the page says so and offers the token form.
	p.waitFor("the 401 message", `(document.getElementById('error') || {}).textContent?.includes('requires credentials')`)
	var formShown bool
	p.eval(`!document.getElementById('token-form').classList.contains('hidden')`, &formShown)
	if !formShown {
		t.Error("the token form is hidden after a 401")
	}
	p.shot("01-token-required")

	// The page is one document from here on: hash routes and actions never
	// reload it (which would lose the sampled rates).
	p.eval(`window.ferryTestMarker = 1`, new(int))

	// A read token: the overview.
	p.useToken(readToken)
	p.waitFor("seven rows", `document.querySelectorAll('#connectors tbody tr').length === 7`)
	p.waitFor("the rates", `[...document.querySelectorAll('#connectors tbody tr[data-name="orders"] td.num')].some(td => /^[0-9.]+k?$/.test(td.textContent) && td.textContent !== '0' && !td.textContent.includes('/'))`)
	names, states := p.rowStates()
	if !reflect.DeepEqual(states, want) {
		t.Errorf("states shown %v, want %v", states, want)
	}
	if len(names) == 7 && (names[0] != "hook-failed" || names[1] != "events-backlog" || names[2] != "hook-retrying") {
		t.Errorf("problems are not on top, worst first: rows %v", names)
	}
	problemsText := p.text("#problems")
	if !strings.Contains(problemsText, "hook-failed") || !strings.Contains(problemsText, "hook-retrying") ||
		!strings.Contains(problemsText, "connection refused") || !strings.Contains(problemsText, "since") {
		t.Errorf("problems panel: %q", problemsText)
	}
	if c := p.text("#cluster"); !strings.Contains(c, "standalone") {
		t.Errorf("cluster panel: %q", c)
	}
	if pipe := p.text(`#connectors tr[data-name="orders"] td.pipe`); pipe != "generator → filter → template → file" {
		t.Errorf("orders pipeline in the table: %q", pipe)
	}
	if n := p.text(`#connectors tr[data-name="orders"] td:nth-child(3)`); n != "2/2" {
		t.Errorf("orders tasks: %q, want 2/2", n)
	}
	if lag := p.text(`#connectors tr[data-name="events-backlog"] td:nth-child(7)`); lag == "—" || lag == "0" {
		t.Errorf("events-backlog lag: %q", lag)
	}
	p.shot("02-overview")

	// Filters.
	// Focus and type in two steps that find no node, so a refresh replacing
	// the input meanwhile cannot fail them (the page keeps the focus).
	p.eval(`document.getElementById('filter-name').focus(), true`, new(bool))
	p.do("filter by name", chromedp.KeyEvent("hook"))
	if names, _ := p.rowStates(); !reflect.DeepEqual(names, []string{"hook-failed", "hook-retrying"}) {
		t.Errorf("name filter hook: rows %v", names)
	}
	// A refresh re-renders the page; the operator's typing goes on.
	p.waitForRefresh()
	var typing []any
	p.eval(`[document.activeElement.id, document.activeElement.value, document.activeElement.selectionStart]`, &typing)
	if !reflect.DeepEqual(typing, []any{"filter-name", "hook", 4.0}) {
		t.Errorf("after a refresh the focus is %v, want the name filter with its text and caret", typing)
	}
	if names, _ := p.rowStates(); !reflect.DeepEqual(names, []string{"hook-failed", "hook-retrying"}) {
		t.Errorf("name filter hook after a refresh: rows %v", names)
	}
	p.eval(`(() => { const n = document.getElementById('filter-name'); n.value = ''; n.dispatchEvent(new Event('input'));
		const s = document.getElementById('filter-state'); s.value = 'PAUSED'; s.dispatchEvent(new Event('change')); return true })()`, new(bool))
	if names, _ := p.rowStates(); !reflect.DeepEqual(names, []string{"idle"}) {
		t.Errorf("state filter PAUSED: rows %v", names)
	}
	p.eval(`(() => { const s = document.getElementById('filter-state'); s.value = ''; s.dispatchEvent(new Event('change')); return true })()`, new(bool))

	// The read token may not act: a clear 403, then the actions are off.
	p.click(`#connectors tr[data-name="audit"] a`)
	p.waitFor("audit's page", `document.getElementById('name')?.textContent === 'audit'`)
	p.click(`button[data-action="pause"]`)
	p.waitFor("the 403 message", `document.getElementById('flash').textContent.includes('may only read')`)
	p.waitFor("actions disabled", `document.querySelector('button[data-action="resume"]').disabled && document.querySelector('button[data-action="pause"]').disabled`)
	if got := tw.condition(t, "audit"); got != "RUNNING" {
		t.Fatalf("audit is %s after a read token's pause", got)
	}

	// An admin token: pause, and the page shows the new state.
	p.useToken(adminToken)
	p.waitFor("pause enabled", `!document.querySelector('button[data-action="pause"]').disabled`)
	// The button is held down across a refresh, as a slow hand would: the
	// refresh must not replace it under the pointer and lose the click.
	p.pressAcrossRefresh(`button[data-action="pause"]`)
	p.waitFor("audit PAUSED", `document.querySelector('#state .badge')?.textContent === 'PAUSED'`)
	if got := tw.condition(t, "audit"); got != "PAUSED" {
		t.Errorf("the worker says audit is %s after the page paused it", got)
	}
	p.waitFor("resume enabled", `!document.querySelector('button[data-action="resume"]').disabled`)

	// Stop, then reset its offsets after typing its name.
	p.click(`button[data-action="stop"]`)
	p.waitFor("audit STOPPED", `document.querySelector('#state .badge')?.textContent === 'STOPPED'`)
	p.waitFor("offsets listed", `document.querySelectorAll('#offsets tbody tr').length > 0`)
	p.click(`button[data-action="reset-offsets"]`)
	p.waitFor("the confirmation", `document.getElementById('confirm').open`)
	p.do("type a wrong name", chromedp.SendKeys(chromedp.CSS("#confirm-input"), "audi"))
	var okDisabled bool
	p.eval(`document.getElementById('confirm-ok').disabled`, &okDisabled)
	if !okDisabled {
		t.Error("confirm is enabled before the name is typed in full")
	}
	p.do("finish the name", chromedp.SendKeys(chromedp.CSS("#confirm-input"), "t"))
	p.click("#confirm-ok")
	p.waitFor("offsets gone", `document.getElementById('flash').textContent.includes('reset successfully') && !document.getElementById('offsets')`)
	offs, err := tw.w.Offsets(context.Background(), "audit")
	if err != nil || len(offs.Offsets) != 0 {
		t.Errorf("offsets after the page reset them: %+v, %v", offs, err)
	}

	// The connector page of a running pipeline.
	p.eval(`location.hash = '#/c/orders', true`, new(bool))
	p.waitFor("orders' page", `document.getElementById('name')?.textContent === 'orders'`)
	p.waitFor("the throughput chart", `document.querySelectorAll('#chart-throughput polyline').length === 3`)
	pipe := p.text("#pipeline")
	for _, s := range []string{"source", "generator", "onlyEven: filter", "shape: template", "sink", "file", "read ", "written ",
		"dead-letter", "errors.tolerance=all", "dead letters 0"} {
		if !strings.Contains(pipe, s) {
			t.Errorf("pipeline lacks %q: %q", s, pipe)
		}
	}
	var tasks [][]string
	p.eval(`[...document.querySelectorAll('#tasks tbody tr')].map(r => [...r.cells].slice(0, 3).map(c => c.textContent.trim()))`, &tasks)
	if len(tasks) != 2 || tasks[0][1] != "RUNNING" || tasks[0][2] != "ui-test" {
		t.Errorf("tasks table: %v", tasks)
	}
	if c := p.text("#config"); !strings.Contains(c, "sink.path") || !strings.Contains(c, "orders.jsonl") {
		t.Errorf("config table: %q", c)
	}
	p.waitFor("offsets", `document.querySelectorAll('#offsets tbody tr').length === 2`)
	if os.Getenv("FERRY_UI_SCREENSHOTS") != "" {
		time.Sleep(20 * time.Second) // screenshots for the docs: let the charts fill
	}
	p.shot("03-connector")

	var marker int
	p.eval(`window.ferryTestMarker || 0`, &marker)
	if marker != 1 {
		t.Error("the page reloaded")
	}

	// A failed connector's page: its trace and the restart it needs.
	p.eval(`location.hash = '#/c/hook-failed', true`, new(bool))
	p.waitFor("hook-failed's page", `document.getElementById('name')?.textContent === 'hook-failed'`)
	if s := p.text("#problem"); !strings.Contains(s, "connection refused") {
		t.Errorf("failed connector's problem line: %q", s)
	}
	p.waitFor("restart failed tasks enabled", `!document.querySelector('button[data-action="restart-failed-tasks"]').disabled`)
	p.click("#tasks td.trace summary")
	p.waitForRefresh()
	var traceOpen bool
	p.eval(`document.querySelector('#tasks td.trace details').open && document.querySelector('#tasks td.trace pre').textContent.includes('connection refused')`, &traceOpen)
	if !traceOpen {
		t.Error("an opened trace closed at the next refresh")
	}
	p.shot("04-failed-connector")

	// A lagging connector's page: the lag per task and its chart.
	p.eval(`location.hash = '#/c/events-backlog', true`, new(bool))
	p.waitFor("the lag chart", `document.querySelectorAll('#chart-lag polyline').length === 1`)
	var taskLag string
	p.eval(`document.querySelector('#tasks tbody tr td:nth-child(4)').textContent`, &taskLag)
	if n, err := strconv.Atoi(taskLag); err != nil || n <= 0 || n > 300 {
		t.Errorf("events-backlog task lag shown %q", taskLag)
	}
	p.shot("05-lagging-connector")

	// Delete, after typing the name: back to the overview, one row less.
	p.eval(`location.hash = '#/c/idle', true`, new(bool))
	p.waitFor("idle's page", `document.getElementById('name')?.textContent === 'idle'`)
	p.click(`button[data-action="delete"]`)
	p.waitFor("the confirmation", `document.getElementById('confirm').open`)
	p.do("type the name", chromedp.SendKeys(chromedp.CSS("#confirm-input"), "idle"))
	p.click("#confirm-ok")
	p.waitFor("the overview without idle", `location.hash === '#/' && document.querySelectorAll('#connectors tbody tr').length === 6 && !document.querySelector('#connectors tr[data-name="idle"]')`)
	if _, err := tw.w.ConnectorInfo(context.Background(), "idle"); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("idle after the page deleted it: %v", err)
	}

	if ps := problems(); len(ps) > 0 {
		t.Errorf("the page had script errors or policy violations:\n%s", strings.Join(ps, "\n"))
	}
}

// TestDashboardLoad measures how long the dashboard takes to show a worker
// with many connectors: from navigation start to the first full render of
// the connectors table (the page's "ferry-rendered" performance mark), over
// a few loads. It runs when FERRY_UI_LOAD gives the number of connectors
// (docs/benchmarks.md: FERRY_UI_LOAD=1000).
func TestDashboardLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FERRY_UI_LOAD"))
	if n <= 0 {
		t.Skip("set FERRY_UI_LOAD=<connectors> to measure the page load")
	}
	ctx, _ := browser(t)
	tw := startWorker(t)
	start := time.Now()
	for i := range n {
		tw.create(t, fmt.Sprintf("conn-%04d", i), state.TargetRunning, "source", "generator", "source.rate", "1", "sink", "drop")
	}
	eventually(t, "every connector running", func() bool {
		for i := range n {
			if tw.condition(t, fmt.Sprintf("conn-%04d", i)) != "RUNNING" {
				return false
			}
		}
		return true
	})
	t.Logf("%d connectors created and running in %v", n, time.Since(start).Round(time.Millisecond))

	// The API answers the page waits for, as a client without a browser sees them.
	for _, path := range []string{"/connectors?expand=status&expand=info", "/metrics"} {
		req, _ := http.NewRequest(http.MethodGet, tw.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+readToken)
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("GET %s: %d, %d KiB in %v", path, resp.StatusCode, len(body)>>10, time.Since(t0).Round(time.Millisecond))
	}

	p := &page{t: t, ctx: ctx, dir: screenshotDir(t)}
	p.do("open", chromedp.Navigate(tw.base+"/ui/"))
	p.eval(fmt.Sprintf(`sessionStorage.setItem('ferry.token', %q), true`, readToken), new(bool))
	marks := []struct {
		mark, what string
		ms         []float64
	}{
		{"ferry-rendered", "the table rendered", nil},
		{"ferry-counts", "the table with the counters of /metrics", nil},
		{"ferry-rates", "the table with rates (the second sample, 1 s later)", nil},
	}
	for range 5 {
		p.do("load", chromedp.Navigate(tw.base+"/ui/"))
		p.waitFor("the table", fmt.Sprintf(`document.querySelectorAll('#connectors tbody tr').length === %d && performance.getEntriesByName('ferry-rates').length === 1`, n))
		for i := range marks {
			var ms float64
			p.eval(fmt.Sprintf(`performance.getEntriesByName(%q)[0].startTime`, marks[i].mark), &ms)
			marks[i].ms = append(marks[i].ms, ms)
		}
	}
	for _, m := range marks {
		slices.Sort(m.ms)
		t.Logf("%d connectors, navigation to %s: median %.0f ms (min %.0f, max %.0f) over %d loads",
			n, m.what, m.ms[len(m.ms)/2], m.ms[0], m.ms[len(m.ms)-1], len(m.ms))
	}
	p.shot("load-" + strconv.Itoa(n))
}

// clusterView is a standalone worker that answers GET /cluster as a
// member of a three-worker cluster would.
type clusterView struct {
	*worker.Standalone
	info worker.ClusterInfo
}

func (c clusterView) ClusterStatus(context.Context) (worker.ClusterInfo, error) { return c.info, nil }

// TestDashboardClusterView: in cluster mode the page shows the members,
// which is the leader and this worker, the generation, each worker's
// tasks, and links to the other workers' dashboards.
func TestDashboardClusterView(t *testing.T) {
	ctx, problems := browser(t)
	view := worker.ClusterInfo{
		WorkerID: "ui-test", Leader: "w2", Generation: 7,
		Members: []worker.ClusterMember{
			{ID: "ui-test", State: "alive", RESTURL: "http://127.0.0.1:8083", GossipAddr: "127.0.0.1:7946", Version: "ui-test"},
			{ID: "w2", State: "alive", RESTURL: "http://10.0.0.2:8083", GossipAddr: "10.0.0.2:7946", Version: "ui-test"},
			{ID: "w3", State: "suspect", RESTURL: "http://10.0.0.3:8083", GossipAddr: "10.0.0.3:7946", Version: "ui-test", Draining: true},
		},
		Assignments: map[string][]worker.ClusterTaskRef{
			"ui-test": {{Connector: "orders", Task: 0, Since: 5}},
			"w2":      {{Connector: "orders", Task: 1, Since: 7}, {Connector: "audit", Task: 0, Since: 6}},
		},
	}
	tw := startWorkerAs(t, func(w *worker.Standalone) worker.Controller { return clusterView{w, view} })
	tw.create(t, "orders", state.TargetRunning, "source", "generator", "source.rate", "5", "tasks.max", "2", "sink", "drop")
	tw.create(t, "audit", state.TargetRunning, "source", "generator", "source.rate", "5", "sink", "drop")

	p := &page{t: t, ctx: ctx, dir: screenshotDir(t)}
	p.do("open", chromedp.Navigate(tw.base+"/ui/?refresh=1"))
	p.eval(fmt.Sprintf(`sessionStorage.setItem('ferry.token', %q), true`, readToken), new(bool))
	p.do("reload with the token", chromedp.Navigate(tw.base+"/ui/?refresh=1"))
	p.waitFor("the cluster panel", `document.querySelectorAll('#cluster tbody tr').length === 3`)
	var rows [][]string
	p.eval(`[...document.querySelectorAll('#cluster tbody tr')].map(r => [...r.cells].map(c => c.innerText.trim()))`, &rows)
	want := [][]string{
		{"ui-test (this worker)", "alive", "", "1 task", "ui-test", "http://127.0.0.1:8083"},
		{"w2", "alive", "★ leader", "2 tasks", "ui-test", "http://10.0.0.2:8083"},
		{"w3", "suspect draining", "", "0", "ui-test", "http://10.0.0.3:8083"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("cluster rows\n got %q\nwant %q", rows, want)
	}
	if h := p.text("#cluster h2"); h != "Cluster · generation 7 · leader w2" {
		t.Errorf("cluster heading %q", h)
	}
	var link string
	p.eval(`document.querySelector('#cluster tr[data-worker="w2"] a[href*="10.0.0.2"]').getAttribute('href')`, &link)
	if link != "http://10.0.0.2:8083/ui/" {
		t.Errorf("link to w2's dashboard %q", link)
	}
	if w := p.text("#worker"); !strings.Contains(w, "cluster of 3, generation 7") {
		t.Errorf("header %q", w)
	}
	p.click(`#cluster tr[data-worker="w2"] summary`)
	var tasks string
	p.eval(`document.querySelector('#cluster tr[data-worker="w2"] ul').textContent`, &tasks)
	if !strings.Contains(tasks, "orders #1") || !strings.Contains(tasks, "audit #0") {
		t.Errorf("w2's tasks: %q", tasks)
	}
	p.shot("06-cluster")
	if ps := problems(); len(ps) > 0 {
		t.Errorf("the page had script errors or policy violations:\n%s", strings.Join(ps, "\n"))
	}
}
