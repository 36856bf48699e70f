package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/drop"
	"github.com/ferryhq/ferry/connectors/generator"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/transform"
	"github.com/ferryhq/ferry/transform/predicate"
	"github.com/ferryhq/ferry/transform/smt"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
)

// TestRESTPropertiesFromOpenAPI drives a real standalone worker (generator
// and drop connectors, the real transforms) through its REST handler with
// requests generated from docs/openapi.yaml: for every documented path and
// method, path parameters (existing, missing and hostile names), query
// parameters (documented ones with random and boundary values, unknown
// ones) and bodies (valid per the schema, then mutated). Whatever arrives:
//
//   - no 5xx (the only documented 503 is cluster mode's);
//   - every body is JSON (text/plain where the document says so) and empty
//     where the document declares no content;
//   - every error is {error_code == status, message non-empty};
//   - the status is one the document declares for the operation, or one
//     its top-level description allows for any request;
//   - a 2xx body validates against the documented schema;
//   - a connector running the whole time is never disturbed: random writes
//     use other names, and it stays RUNNING with its record count growing.
//
// Each operation is a subtest with its own seed (printed on failure).
// FERRY_REST_PROPERTY_N sets the requests per operation (default 400, or
// 120 with -short); FERRY_REST_PROPERTY_SEED the base seed.
func TestRESTPropertiesFromOpenAPI(t *testing.T) {
	t.Parallel()
	perOp := 400
	if testing.Short() {
		perOp = 120
	}
	if v := os.Getenv("FERRY_REST_PROPERTY_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("FERRY_REST_PROPERTY_N=%q: want a positive integer", v)
		}
		perOp = n
	}
	baseSeed := uint64(20261206)
	if v := os.Getenv("FERRY_REST_PROPERTY_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("FERRY_REST_PROPERTY_SEED=%q: %v", v, err)
		}
		baseSeed = n
	}

	doc := propLoadDoc(t)
	ops := doc.operations(t)
	generic := propGenericStatuses(t, doc)

	env := propStartWorker(t)
	steadyBefore := env.steadyRecords(t)
	steadyConfig := env.steadyConfig(t)

	for i, op := range ops {
		seed := baseSeed + uint64(i)*7919
		ok := t.Run(op.id, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
			g := &propGen{rng: rng, doc: doc, env: env}
			statuses := map[int]int{}
			env.seedConnector(rng)
			for n := 0; n < perOp; n++ {
				req := g.request(op)
				rec := env.serve(req.http)
				statuses[rec.Code]++
				if msg := propCheck(doc, op, req, rec, generic); msg != "" {
					t.Fatalf("seed %d (FERRY_REST_PROPERTY_SEED=%d), request %d: %s %s (content-type %q, body %s)\n-> %d %s\n%s",
						seed, baseSeed, n, req.http.Method, req.http.URL.RequestURI(), req.http.Header.Get("Content-Type"),
						propShort(req.body, 300), rec.Code, propShort(rec.Body.Bytes(), 600), msg)
				}
				if n%25 == 24 {
					env.cleanup() // random connectors must not pile up
					env.seedConnector(rng)
				}
			}
			env.cleanup()
			t.Logf("seed %d: statuses %v", seed, statuses)
			// The generator must reach the operation's success path, or
			// the properties above were checked on errors only.
			succeeded := false
			for code := range statuses {
				succeeded = succeeded || code < 300
			}
			if !succeeded && op.id != "clusterStatus" { // standalone: always 404
				t.Errorf("seed %d: no request to %s succeeded in %d (%v)", seed, op.id, perOp, statuses)
			}
			if msg := env.steadyUndisturbed(steadyConfig); msg != "" {
				t.Fatalf("seed %d: after %s the steady connector was disturbed: %s", seed, op.id, msg)
			}
		})
		if !ok {
			break
		}
	}

	// The steady connector kept running throughout: RUNNING, same config,
	// and it produced records while we hammered the API.
	deadline := time.Now().Add(10 * time.Second)
	for env.steadyRecords(t) <= steadyBefore {
		if time.Now().After(deadline) {
			t.Fatalf("the steady connector's record count did not grow (%d before)", steadyBefore)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if msg := env.steadyUndisturbed(steadyConfig); msg != "" {
		t.Fatalf("at the end: %s", msg)
	}
}

// propGenericStatuses returns the statuses docs/openapi.yaml's top-level
// description allows for any request (security, content type, body
// limit, routing), after checking the description names each of them.
func propGenericStatuses(t *testing.T, doc *propDoc) map[int]bool {
	t.Helper()
	desc, _ := propMap(doc.root["info"])["description"].(string)
	generic := map[int]bool{}
	for _, code := range []int{401, 403, 404, 405, 413, 415, 421} {
		if !strings.Contains(desc, strconv.Itoa(code)) {
			t.Errorf("docs/openapi.yaml's info.description does not mention %d, which any request may get", code)
		}
		generic[code] = true
	}
	return generic
}

// --- the document -----------------------------------------------------

type propDoc struct {
	root map[string]any
}

type propParam struct {
	name, in string
	schema   map[string]any
}

type propOp struct {
	id, method, path string // path as documented: /connectors/{name}
	params           []propParam
	body             map[string]any // request body schema (application/json), nil if none
	bodyRequired     bool
	responses        map[string]map[string]any // status → response (refs resolved)
}

func propLoadDoc(t *testing.T) *propDoc {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	return &propDoc{root: root}
}

func propMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// deref follows a local $ref ("#/components/schemas/X") until the node is
// not a reference.
func (d *propDoc) deref(m map[string]any) map[string]any {
	for i := 0; i < 20 && m != nil; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var n any = d.root
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			n = propMap(n)[part]
		}
		m = propMap(n)
	}
	return m
}

// refName is the last part of a schema's $ref, or "".
func refName(m map[string]any) string {
	ref, _ := m["$ref"].(string)
	return ref[strings.LastIndexByte(ref, '/')+1:]
}

func (d *propDoc) operations(t *testing.T) []propOp {
	t.Helper()
	var out []propOp
	for path, item := range propMap(d.root["paths"]) {
		im := propMap(item)
		var shared []any
		if ps, ok := im["parameters"].([]any); ok {
			shared = ps
		}
		for method, raw := range im {
			if method == "parameters" {
				continue
			}
			om := propMap(raw)
			if stream, _ := om["x-stream"].(bool); stream {
				continue // a stream lasts until the request times out: TestTapStreams checks it
			}
			op := propOp{method: strings.ToUpper(method), path: path, responses: map[string]map[string]any{}}
			op.id, _ = om["operationId"].(string)
			ps, _ := om["parameters"].([]any)
			for _, p := range append(append([]any(nil), shared...), ps...) {
				pm := d.deref(propMap(p))
				name, _ := pm["name"].(string)
				in, _ := pm["in"].(string)
				op.params = append(op.params, propParam{name: name, in: in, schema: d.deref(propMap(pm["schema"]))})
			}
			if rb := propMap(om["requestBody"]); rb != nil {
				op.bodyRequired, _ = rb["required"].(bool)
				op.body = propMap(propMap(propMap(rb["content"])["application/json"])["schema"])
				if op.body == nil {
					t.Fatalf("%s %s: request body without an application/json schema", op.method, path)
				}
			}
			for code, r := range propMap(om["responses"]) {
				op.responses[code] = d.deref(propMap(r))
			}
			if op.id == "" {
				t.Fatalf("%s %s has no operationId", op.method, path)
			}
			out = append(out, op)
		}
	}
	if len(out) < 20 {
		t.Fatalf("docs/openapi.yaml lists %d operations; did the document move?", len(out))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// --- the worker under test ----------------------------------------------

// propEnv is a real standalone worker behind the real REST handler, with
// the connector "steady" (generator → drop) running throughout.
type propEnv struct {
	w       *worker.Standalone
	handler http.Handler
	// maxBody is the server's body limit, small so near-limit bodies are
	// cheap.
	maxBody int
}

const (
	propSteady  = "steady"
	propMaxBody = 64 << 10
)

// propWriteNames are the connectors random writes may create and change.
var propWriteNames = []string{"prop-a", "prop-b"}

func propStartWorker(t *testing.T) *propEnv {
	t.Helper()
	reg := worker.Registry{
		Sources:       []api.SourcePlugin{generator.Source},
		Sinks:         []api.SinkPlugin{drop.Sink},
		Transforms:    append(transform.Plugins(), smt.Plugins()...),
		Predicates:    predicate.Plugins(),
		PredicateWrap: predicate.Wrap,
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := worker.New(worker.Config{WorkerID: "prop", Store: state.NewMemory(), Registry: reg, Logger: log,
		Restart: worker.RestartPolicy{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rest.New(rest.Config{Addr: "127.0.0.1:8083", Controller: w, Version: "prop",
		Logger: log, MaxBodyBytes: propMaxBody, RequestTimeout: 20 * time.Second,
		Loggers: worker.NewLogLevels(slog.LevelInfo)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.Run(ctx); err != nil {
			t.Errorf("worker Run: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	env := &propEnv{w: w, handler: srv.Handler(), maxBody: propMaxBody}

	if _, err := w.CreateConnector(ctx, propSteady, map[string]string{
		"name": propSteady, "source": "generator", "source.rate": "200", "sink": "drop",
		"offset.flush.interval.ms": "50",
	}, state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for env.steadyRecords(t) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the steady connector produced no records")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return env
}

func (e *propEnv) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

// steadyRecords is the steady task's polled record count (0 when it runs
// no task).
func (e *propEnv) steadyRecords(t *testing.T) int64 {
	t.Helper()
	for _, m := range e.w.TaskMetrics() {
		if m.Connector == propSteady {
			return m.Snapshot.SourceRecordPollTotal
		}
	}
	return 0
}

func (e *propEnv) steadyConfig(t *testing.T) map[string]string {
	t.Helper()
	info, err := e.w.ConnectorInfo(context.Background(), propSteady)
	if err != nil {
		t.Fatal(err)
	}
	return info.Config
}

// steadyUndisturbed reports what is wrong with the steady connector: not
// RUNNING, a task that is not RUNNING or was restarted (its counters
// started again), or a changed config.
func (e *propEnv) steadyUndisturbed(config map[string]string) string {
	ctx := context.Background()
	st, err := e.w.ConnectorStatus(ctx, propSteady)
	if err != nil {
		return err.Error()
	}
	if st.Connector.State != "RUNNING" || len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" {
		return fmt.Sprintf("status %+v", st)
	}
	info, err := e.w.ConnectorInfo(ctx, propSteady)
	if err != nil {
		return err.Error()
	}
	if !mapsEqual(info.Config, config) {
		return fmt.Sprintf("config changed: %v, was %v", info.Config, config)
	}
	return ""
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// seedConnector creates the first write name in a random state, so writes
// and reads of it find a connector that runs, is paused or is stopped
// (offsets may only change while stopped).
func (e *propEnv) seedConnector(rng *rand.Rand) {
	state := []state.TargetState{state.TargetRunning, state.TargetPaused, state.TargetStopped, state.TargetStopped}[rng.IntN(4)]
	_, _ = e.w.CreateConnector(context.Background(), propWriteNames[0], map[string]string{
		"name": propWriteNames[0], "source": "generator", "source.rate": "20", "sink": "drop",
	}, state)
}

// cleanup deletes the connectors random writes may have created, so an
// endless generator does not keep a core busy.
func (e *propEnv) cleanup() {
	ctx := context.Background()
	names, _ := e.w.Connectors(ctx)
	for _, n := range names {
		if n != propSteady {
			_ = e.w.DeleteConnector(ctx, n)
		}
	}
}

// --- request generation -------------------------------------------------

type propGen struct {
	rng *rand.Rand
	doc *propDoc
	env *propEnv
}

type propRequest struct {
	http *http.Request
	body []byte
	// nonJSONWrite: a write with a body (or a Content-Type) that is not
	// JSON, which the browser guard must refuse with 415.
	nonJSONWrite bool
}

func (g *propGen) pick(n int) int { return g.rng.IntN(n) }

func (g *propGen) chance(p float64) bool { return g.rng.Float64() < p }

func oneOf[T any](g *propGen, xs ...T) T { return xs[g.pick(len(xs))] }

// hostileNames are connector names no sane client sends. None of them
// resolves to the steady connector, whatever the router does to it.
func (g *propGen) hostileName() string {
	switch g.pick(14) {
	case 0:
		return strings.Repeat("n", 201+g.pick(3000))
	case 1:
		return "名前-" + string(rune(0x1F600+g.pick(50)))
	case 2:
		return ".."
	case 3:
		return "."
	case 4:
		return "a/b"
	case 5:
		return "ctl\x00\x01\x1f\x7f"
	case 6:
		return " padded "
	case 7:
		return "%2e%2e"
	case 8:
		return "back\\slash"
	case 9:
		return "\u202eevil"
	case 10:
		return "nul\u0000"
	case 11:
		return "x?y#z"
	case 12:
		return "\xff\xfe"
	default:
		return g.randString(1 + g.pick(40))
	}
}

// connectorName picks the {name} of a request. Reads may name the steady
// connector; writes never do.
func (g *propGen) connectorName(write bool) string {
	switch k := g.pick(10); {
	case k < 3 && !write:
		return propSteady
	case k < 6:
		return oneOf(g, propWriteNames...)
	case k < 7:
		return "missing-" + strconv.Itoa(g.pick(1000))
	default:
		return g.hostileName()
	}
}

// escapeSegment escapes one path segment, usually properly and sometimes
// badly (raw, or with %-escapes of its own).
func (g *propGen) escapeSegment(s string) string {
	switch g.pick(10) {
	case 0:
		return s // raw: may break the path, which is the point
	case 1:
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
		return b.String()
	default:
		return url.PathEscape(s)
	}
}

func (g *propGen) randString(n int) string {
	const alphabet = "abcXYZ019._-:/ \"'\\{}[]$%é€😀\t\n\u2028"
	rs := []rune(alphabet)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteRune(rs[g.pick(len(rs))])
	}
	return b.String()
}

func (g *propGen) request(op propOp) propRequest {
	write := op.method != http.MethodGet
	// Path.
	path, safePath := op.path, op.path
	for _, p := range op.params {
		if p.in != "path" {
			continue
		}
		var v string
		switch p.name {
		case "name":
			v = g.connectorName(write)
		case "task":
			v = oneOf(g, "0", "0", "1", "-1", "abc", "99999999999999999999", "", "0x1", " 1", "1.5", "٣")
		case "plugin":
			v = oneOf(g, "generator", "drop", "generator", "drop", "filter", "nope", "ferry.source.generator", "ferry.sink.drop", "ferry.transform.filter", g.hostileName())
		case "logger":
			v = oneOf(g, "root", "ferry", "ferry.runtime", "ferry.worker.rest", propSteady, propWriteNames[0], "nope", "Ferry.Runtime", g.hostileName())
		case "file":
			v = oneOf(g, "app.js", "app.css", "favicon.svg", "index.html", "nope.js", g.hostileName())
		default:
			v = g.randString(5)
		}
		path = strings.Replace(path, "{"+p.name+"}", g.escapeSegment(v), 1)
		safePath = strings.Replace(safePath, "{"+p.name+"}", url.PathEscape(v), 1)
	}
	// Query.
	q := url.Values{}
	for _, p := range op.params {
		if p.in != "query" || !g.chance(0.6) {
			continue
		}
		for n := 1 + g.pick(2); n > 0; n-- {
			q.Add(p.name, g.queryValue(p))
		}
	}
	if g.chance(0.2) {
		q.Add(oneOf(g, "unknown", "expand", "includeTasks", "forward", "x[]"), g.randString(g.pick(6)))
	}
	u, err := url.ParseRequestURI(path)
	if err != nil || strings.ContainsAny(path, "?#") {
		// A raw segment that is no valid URI, or would start the query:
		// send the escaped form.
		if u, err = url.ParseRequestURI(safePath); err != nil {
			panic(fmt.Sprintf("escaped path %q: %v", safePath, err))
		}
	}
	u.RawQuery = q.Encode()
	// Body.
	var body []byte
	var contentType string
	hasBody := op.body != nil || g.chance(0.1) // body-less routes sometimes get one anyway
	if hasBody && (op.body == nil || !op.bodyRequired || g.chance(0.95)) {
		if op.body != nil {
			body = g.body(op)
		} else {
			body = []byte(`{"ignored": true}`)
		}
		contentType = "application/json"
	}
	nonJSON := false
	switch k := g.pick(30); {
	case k == 0 && write:
		contentType = "" // no Content-Type; a body still makes it a 415
		nonJSON = len(body) > 0
	case k == 1:
		contentType = "text/plain; charset=utf-8"
		nonJSON = write
	case k == 2:
		contentType = "application/x-www-form-urlencoded"
		nonJSON = write
	case k == 3 && contentType != "":
		contentType = "application/json; charset=utf-8"
	case k == 4 && contentType != "":
		contentType = "application/merge-patch+json"
	}
	var rd io.Reader = http.NoBody
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(op.method, "/", rd)
	req.URL = u
	req.RequestURI = u.RequestURI()
	req.Host = "127.0.0.1:8083"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if len(body) == 0 {
		req.ContentLength = 0
	}
	return propRequest{http: req, body: body, nonJSONWrite: nonJSON}
}

func (g *propGen) queryValue(p propParam) string {
	switch t, _ := p.schema["type"].(string); t {
	case "boolean":
		return oneOf(g, "true", "false", "1", "0", "TRUE", "t", "", "yes", "2", g.randString(3))
	case "array":
		items := g.doc.deref(propMap(p.schema["items"]))
		if enum, ok := items["enum"].([]any); ok && g.chance(0.7) {
			var vals []string
			for n := 1 + g.pick(len(enum)); n > 0; n-- {
				vals = append(vals, fmt.Sprint(enum[g.pick(len(enum))]))
			}
			return strings.Join(vals, oneOf(g, ",", ", ", ",,"))
		}
		return g.randString(g.pick(8))
	default:
		return g.randString(g.pick(8))
	}
}

// body returns a request body for op: valid per its schema (with configs
// that really run), else mutated.
func (g *propGen) body(op propOp) []byte {
	v := g.valid(op.body, 0)
	switch k := g.pick(20); {
	case k < 8:
		b, _ := json.Marshal(v)
		return b
	case k < 14:
		v = g.mutate(v, 0)
		b, _ := json.Marshal(v)
		return b
	case k == 14:
		// Near the body limit: just under, or just over.
		pad := g.env.maxBody - 64 + g.pick(128)
		return []byte(`{"name":"` + propWriteNames[0] + `","pad":"` + strings.Repeat("x", pad) + `"}`)
	case k == 15:
		depth := oneOf(g, 100, 1000, 10001, 20000)
		return []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth))
	case k == 16:
		b, _ := json.Marshal(v)
		// Invalid UTF-8 inside a string, or raw garbage.
		if i := bytes.IndexByte(b, '"'); i >= 0 {
			return slices.Concat(b[:i+1], []byte{0xff, 0xc0, 0x80}, b[i+1:])
		}
		return append(b, 0xff)
	case k == 17:
		return []byte(oneOf(g, "null", "[]", `""`, "0", "{} {}", "{", `{"a":}`, "\ufeff{}", "NaN", " ", "true"))
	case k == 18:
		b := make([]byte, 1+g.pick(200))
		for i := range b {
			b[i] = byte(g.pick(256))
		}
		return b
	default:
		b, _ := json.Marshal(v)
		if len(b) > 2 {
			return b[:g.pick(len(b))] // truncated
		}
		return b
	}
}

// validConfig returns a connector config that validates and runs cheaply
// (the generator is rate-limited).
func (g *propGen) validConfig() map[string]any {
	c := map[string]any{"source": "generator", "source.rate": oneOf[any](g, "5", 5, "50"), "sink": "drop",
		"source.count": oneOf[any](g, "20", 100, "0")}
	if g.chance(0.3) {
		c["tasks.max"] = oneOf[any](g, 1, "2", true)
	}
	if g.chance(0.3) {
		c["transforms"] = "f"
		c["transforms.f.type"] = "filter"
		c["transforms.f.pattern"] = `{"type":["` + generator.Type + `"]}`
	}
	if g.chance(0.2) {
		c["errors.tolerance"] = oneOf(g, "all", "none", "some")
	}
	if g.chance(0.3) {
		// Kafka Connect's clients: the class Ferry returns, or one naming
		// a side (dropped or replacing source=), now and then a wrong one.
		c["connector.class"] = oneOf[any](g, "ferry.pipeline", "ferry.source.generator", "generator", "drop", "ferry.sink.drop", "org.example.Nope")
		if g.chance(0.5) {
			delete(c, "source")
		}
	}
	return c
}

// valid generates a value of schema s; the schemas of configs, connector
// requests and preview requests get values that make sense to the worker.
func (g *propGen) valid(s map[string]any, depth int) any {
	switch refName(s) {
	case "ConfigMap", "ConfigPatch":
		if g.chance(0.85) {
			c := g.validConfig()
			if refName(s) == "ConfigPatch" && g.chance(0.3) {
				c["transforms"] = nil
			}
			return c
		}
	case "CreateConnectorRequest":
		r := map[string]any{"name": oneOf(g, propWriteNames...), "config": g.validConfig()}
		if g.chance(0.3) {
			r["initial_state"] = oneOf(g, "RUNNING", "PAUSED", "STOPPED", "paused")
		}
		return r
	case "ConnectorOffsetsPatch":
		if g.chance(0.8) {
			var offs []any
			for n := 1 + g.pick(2); n > 0; n-- {
				var off any = map[string]any{"position": oneOf[any](g, "5", 7, g.randString(4))}
				if g.chance(0.2) {
					off = nil // deletes the partition's position
				}
				offs = append(offs, map[string]any{"partition": map[string]any{"partition": "task-" + strconv.Itoa(g.pick(2))}, "offset": off})
			}
			return map[string]any{"offsets": offs}
		}
	case "CloudEvent":
		ev := map[string]any{"specversion": "1.0", "id": strconv.Itoa(g.pick(100)), "source": "/prop", "type": generator.Type,
			"data": map[string]any{"seq": g.pick(10)}}
		if g.chance(0.2) {
			ev["type"] = "other"
		}
		return ev
	}
	s = g.doc.deref(s)
	if depth > 6 {
		return nil
	}
	if alts, ok := s["oneOf"].([]any); ok {
		return g.valid(propMap(alts[g.pick(len(alts))]), depth+1)
	}
	if enum, ok := s["enum"].([]any); ok {
		return enum[g.pick(len(enum))]
	}
	switch t, _ := s["type"].(string); t {
	case "object":
		out := map[string]any{}
		props := propMap(s["properties"])
		req := map[string]bool{}
		if rs, ok := s["required"].([]any); ok {
			for _, r := range rs {
				req[fmt.Sprint(r)] = true
			}
		}
		for _, k := range slices.Sorted(mapKeys(props)) {
			if req[k] || g.chance(0.7) {
				out[k] = g.valid(propMap(props[k]), depth+1)
			}
		}
		if ap := propMap(s["additionalProperties"]); ap != nil {
			for n := g.pick(3); n > 0; n-- {
				out[oneOf(g, "partition", "position", "k", g.randString(4))] = g.valid(ap, depth+1)
			}
		}
		return out
	case "array":
		n := g.pick(3)
		if mi, ok := s["minItems"].(int); ok && n < mi {
			n = mi
		}
		out := make([]any, n)
		for i := range out {
			out[i] = g.valid(propMap(s["items"]), depth+1)
		}
		return out
	case "string":
		return g.randString(g.pick(12))
	case "integer":
		return g.pick(5)
	case "number":
		return g.rng.Float64() * 100
	case "boolean":
		return g.chance(0.5)
	}
	return g.randString(3)
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// mutate breaks v in one place: a wrong type, a missing or extra field, a
// null, a huge string.
func (g *propGen) mutate(v any, depth int) any {
	wrong := func() any {
		return oneOf[any](g, nil, 12345678901234567890.0, -1, true, "", []any{1, "x"},
			map[string]any{"nested": map[string]any{"deeper": []any{nil}}}, strings.Repeat("長", 2000), 1.5e300)
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x)+1)
		for k, val := range x {
			out[k] = val
		}
		keys := slices.Sorted(mapKeys(out))
		switch g.pick(5) {
		case 0:
			if len(keys) > 0 {
				delete(out, keys[g.pick(len(keys))])
			}
		case 1:
			out[oneOf(g, "extra", "name", "config", "initial_state", "offsets", "events", g.randString(5))] = wrong()
		case 2:
			if len(keys) > 0 {
				out[keys[g.pick(len(keys))]] = wrong()
			}
		default:
			if len(keys) > 0 && depth < 4 {
				k := keys[g.pick(len(keys))]
				out[k] = g.mutate(out[k], depth+1)
			} else {
				return wrong()
			}
		}
		return out
	case []any:
		out := append([]any(nil), x...)
		switch {
		case len(out) > 0 && g.chance(0.5):
			i := g.pick(len(out))
			out[i] = g.mutate(out[i], depth+1)
		case g.chance(0.5):
			out = append(out, wrong())
		default:
			return wrong()
		}
		return out
	default:
		return wrong()
	}
}

// --- checking a response ------------------------------------------------

// propCheck returns what is wrong with rec as the answer to req, or "".
func propCheck(doc *propDoc, op propOp, req propRequest, rec *httptest.ResponseRecorder, generic map[int]bool) string {
	code := rec.Code
	body := rec.Body.Bytes()
	ct := rec.Header().Get("Content-Type")
	if code >= 500 {
		return fmt.Sprintf("status %d: no request may make the worker fail", code)
	}
	if req.nonJSONWrite && code != http.StatusUnsupportedMediaType {
		return fmt.Sprintf("a %s whose body is not declared JSON answered %d, want 415", op.method, code)
	}
	resp, declared := op.responses[strconv.Itoa(code)]
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) && propRoutes(op.path, req.http.URL.EscapedPath()) {
		// The path is the operation's own: a 404 or 405 must be declared.
		generic = nil
	}
	if !declared && !generic[code] {
		return fmt.Sprintf("status %d is not declared for %s (declared: %v) nor allowed for any request", code, op.id, slices.Sorted(mapKeysR(op.responses)))
	}
	if code >= 400 {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return fmt.Sprintf("error answer has Content-Type %q", ct)
		}
		var e struct {
			ErrorCode *int    `json:"error_code"`
			Message   *string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil {
			return "error answer is not JSON: " + err.Error()
		}
		if e.ErrorCode == nil || *e.ErrorCode != code || e.Message == nil || *e.Message == "" {
			return "error answer is not {error_code: status, message: non-empty}"
		}
		if declared {
			if s := propMap(propMap(propMap(resp["content"])["application/json"])["schema"]); s != nil {
				if err := doc.validate(s, propDecode(body), "$"); err != "" {
					return "error answer does not match its schema: " + err
				}
			}
		}
		return ""
	}
	content := propMap(resp["content"])
	if len(content) == 0 {
		if len(body) != 0 {
			return fmt.Sprintf("%d declares no content but the answer has a body", code)
		}
		return ""
	}
	mt, _, _ := mime.ParseMediaType(ct)
	media := propMap(content[mt])
	if media == nil {
		return fmt.Sprintf("Content-Type %q is not one the document declares for %d (%v)", ct, code, slices.Sorted(mapKeys(content)))
	}
	schema := propMap(media["schema"])
	if mt != "application/json" {
		return ""
	}
	if !json.Valid(body) {
		return "answer is not JSON"
	}
	if err := doc.validate(schema, propDecode(body), "$"); err != "" {
		return "answer does not match the documented schema: " + err
	}
	return ""
}

// propRoutes reports whether an escaped request path has the shape of a
// documented path template (a raw '/' in a name makes it another path).
func propRoutes(template, escaped string) bool {
	escaped = strings.TrimRight(escaped, "/")
	ts, ps := strings.Split(template, "/"), strings.Split(escaped, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") {
			if ps[i] == "" {
				return false // an empty segment routes nowhere
			}
			continue
		}
		if ts[i] != ps[i] {
			return false
		}
	}
	return true
}

func mapKeysR(m map[string]map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func propDecode(b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	_ = dec.Decode(&v)
	return v
}

// validate checks v against the subset of JSON Schema (OpenAPI 3.0
// flavour) docs/openapi.yaml uses: $ref, type, nullable, properties,
// required, items, enum, additionalProperties, oneOf, minItems, maxItems.
// It returns the first mismatch, naming where it is.
func (d *propDoc) validate(s map[string]any, v any, at string) string {
	s = d.deref(s)
	if s == nil {
		return ""
	}
	if v == nil {
		if n, _ := s["nullable"].(bool); n {
			return ""
		}
		if _, typed := s["type"]; typed {
			return at + ": null where the schema does not allow it"
		}
	}
	if alts, ok := s["oneOf"].([]any); ok {
		matched := 0
		var errs []string
		for _, a := range alts {
			if e := d.validate(propMap(a), v, at); e == "" {
				matched++
			} else {
				errs = append(errs, e)
			}
		}
		if matched != 1 {
			return fmt.Sprintf("%s: matches %d of oneOf's %d schemas (%s)", at, matched, len(alts), strings.Join(errs, "; "))
		}
	}
	if enum, ok := s["enum"].([]any); ok && v != nil {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			return fmt.Sprintf("%s: %v is not one of %v", at, v, enum)
		}
	}
	t, _ := s["type"].(string)
	switch t {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object, got %T", at, v)
		}
		if rs, ok := s["required"].([]any); ok {
			for _, r := range rs {
				if _, ok := m[fmt.Sprint(r)]; !ok {
					return fmt.Sprintf("%s: required property %v missing", at, r)
				}
			}
		}
		props := propMap(s["properties"])
		for _, k := range slices.Sorted(mapKeys(m)) {
			if ps, ok := props[k]; ok {
				if e := d.validate(propMap(ps), m[k], at+"."+k); e != "" {
					return e
				}
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Sprintf("%s: property %q not allowed", at, k)
				}
			case map[string]any:
				if e := d.validate(ap, m[k], at+"."+k); e != "" {
					return e
				}
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Sprintf("%s: want an array, got %T", at, v)
		}
		if mi, ok := s["minItems"].(int); ok && len(a) < mi {
			return fmt.Sprintf("%s: %d items, want at least %d", at, len(a), mi)
		}
		if ma, ok := s["maxItems"].(int); ok && len(a) > ma {
			return fmt.Sprintf("%s: %d items, want at most %d", at, len(a), ma)
		}
		for i, x := range a {
			if e := d.validate(propMap(s["items"]), x, fmt.Sprintf("%s[%d]", at, i)); e != "" {
				return e
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("%s: want a string, got %T", at, v)
		}
	case "integer":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			return fmt.Sprintf("%s: want an integer, got %v", at, v)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			return fmt.Sprintf("%s: want a number, got %T", at, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("%s: want a boolean, got %T", at, v)
		}
	}
	return ""
}

func propShort(b []byte, n int) string {
	s := strconv.Quote(string(b))
	if len(s) > n {
		return s[:n] + fmt.Sprintf("…(%d bytes)", len(b))
	}
	return s
}

// TestRESTPropertyValidator checks the schema validator the property test
// relies on: it must reject what the document does not allow, or the
// property test would prove nothing.
func TestRESTPropertyValidator(t *testing.T) {
	t.Parallel()
	doc := propLoadDoc(t)
	ref := func(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }
	cases := []struct {
		name   string
		schema map[string]any
		json   string
		ok     bool
	}{
		{"connector info", ref("ConnectorInfo"), `{"name":"a","config":{"k":"v"},"tasks":[{"connector":"a","task":0}],"type":"source"}`, true},
		{"config value not a string", ref("ConnectorInfo"), `{"config":{"k":1}}`, false},
		{"task id not an integer", ref("ConnectorInfo"), `{"tasks":[{"connector":"a","task":0.5}]}`, false},
		{"type outside the enum", ref("ConnectorInfo"), `{"type":"both"}`, false},
		{"error without message", ref("Error"), `{"error_code":400}`, false},
		{"error", ref("Error"), `{"error_code":400,"message":"m","fields":[{"field":"f","message":"m"}]}`, true},
		{"state outside the enum", ref("TaskStateInfo"), `{"id":0,"state":"SLEEPING"}`, false},
		{"nullable default", ref("ConfigKeyInfo"), `{"name":"a","default_value":null}`, true},
		{"null where not nullable", ref("ConfigKeyInfo"), `{"name":null}`, false},
		{"oneOf config value", ref("ConfigMap"), `{"a":"x","b":1,"c":true}`, true},
		{"oneOf config value object", ref("ConfigMap"), `{"a":{"x":1}}`, false},
		{"preview result missing error", ref("PreviewResult"), `{"dropped":false,"dropped_by":"","events":[]}`, false},
		{"array not object", ref("ConnectorOffsets"), `[]`, false},
	}
	for _, c := range cases {
		got := doc.validate(c.schema, propDecode([]byte(c.json)), "$")
		if (got == "") != c.ok {
			t.Errorf("%s: validate(%s) = %q, want ok=%v", c.name, c.json, got, c.ok)
		}
	}
}
