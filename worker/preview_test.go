package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/workertest"
)

// newPreviewWorker returns a worker over previewRegistry. Preview needs no
// Run: it creates nothing.
func newPreviewWorker(t testing.TB) *worker.Standalone {
	t.Helper()
	w, err := worker.New(worker.Config{WorkerID: "preview", Store: state.NewMemory(), Registry: workertest.PreviewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func previewEvent(id, typ, subject string) api.Event {
	return api.Event{ID: id, Source: "/test", SpecVersion: "1.0", Type: typ, Subject: subject,
		DataContentType: "application/json", Data: []byte(`{"n":1}`)}
}

// previewSummary renders results compactly for comparison: per event
// "kept <json>", "dropped by <alias>" or "error <message>".
func previewSummary(results []worker.PreviewResult) []string {
	out := make([]string, len(results))
	for i, r := range results {
		switch {
		case r.Error != "":
			out[i] = "error " + r.Error
		case r.Dropped:
			out[i] = "dropped by " + r.DroppedBy
		default:
			evs := make([]string, len(r.Events))
			for j, e := range r.Events {
				evs[j] = string(e)
			}
			out[i] = "kept " + strings.Join(evs, " ")
		}
	}
	return out
}

func TestPreviewTransforms(t *testing.T) {
	t.Parallel()
	ok := previewEvent("1", "order.created", "")
	bad := previewEvent("2", "order.created", "bad")
	boom := previewEvent("3", "order.created", "panic")
	audit := previewEvent("4", "audit", "")
	vip := previewEvent("5", "order.created", "vip")
	tests := []struct {
		name   string
		config map[string]string
		events []api.Event
		want   []string
	}{
		{"empty chain passes events through", nil, []api.Event{ok},
			[]string{`kept {"specversion":"1.0","id":"1","source":"/test","type":"order.created","datacontenttype":"application/json","data":{"n":1}}`}},
		{"no events", map[string]string{"transforms": "a", "transforms.a.type": "settype", "transforms.a.to": "x"}, nil, []string{}},
		{"steps apply in order; the dropping step is named",
			map[string]string{"transforms": "noaudit,rename", "transforms.noaudit.type": "drop", "transforms.noaudit.match": "audit",
				"transforms.rename.type": "settype", "transforms.rename.to": "audit"},
			[]api.Event{ok, audit},
			[]string{
				`kept {"specversion":"1.0","id":"1","source":"/test","type":"audit","datacontenttype":"application/json","data":{"n":1}}`,
				"dropped by noaudit",
			}},
		{"errors and panics are per event, and quote no secret",
			map[string]string{"transforms": "f", "transforms.f.type": "fail", "transforms.f.key": "k3y-s3cr3t"},
			[]api.Event{bad, boom, ok},
			[]string{
				`error transform "f": cannot handle 2 (key [hidden])`,
				`error transform "f": transform panicked: boom`,
				`kept {"specversion":"1.0","id":"1","source":"/test","type":"order.created","datacontenttype":"application/json","data":{"n":1}}`,
			}},
		{"extensions in name order",
			map[string]string{"transforms": "e", "transforms.e.type": "exts"},
			[]api.Event{ok},
			[]string{`kept {"specversion":"1.0","id":"1","source":"/test","type":"order.created","datacontenttype":"application/json","alpha":1,"mid":true,"zeta":"z","data":{"n":1}}`}},
		{"unencodable output is that event's error",
			map[string]string{"transforms": "j", "transforms.j.type": "badjson"},
			[]api.Event{ok},
			[]string{`error output event: cloudevent "1": data is not valid JSON for content type "application/json"`}},
		{"a secret copied into the event is hidden, or the event withheld",
			map[string]string{"transforms": "l", "transforms.l.type": "leak", "transforms.l.key": "31415926"},
			[]api.Event{ok, previewEvent("6", "t", "data")},
			[]string{
				`kept {"specversion":"1.0","id":"1","source":"/test","type":"order.created","subject":"key [hidden]","datacontenttype":"application/json","data":{"n":1}}`,
				"error output event withheld: it contains a secret value of the chain's config",
			}},
		{"predicate guards a step",
			map[string]string{"transforms": "d", "transforms.d.type": "drop", "transforms.d.match": "order.created",
				"transforms.d.predicate": "isvip", "predicates": "isvip", "predicates.isvip.type": "subject", "predicates.isvip.is": "vip"},
			[]api.Event{ok, vip},
			[]string{
				`kept {"specversion":"1.0","id":"1","source":"/test","type":"order.created","datacontenttype":"application/json","data":{"n":1}}`,
				"dropped by d",
			}},
		{"negated predicate",
			map[string]string{"transforms": "d", "transforms.d.type": "drop", "transforms.d.match": "order.created",
				"transforms.d.predicate": "isvip", "transforms.d.negate": "true", "predicates": "isvip", "predicates.isvip.type": "subject", "predicates.isvip.is": "vip"},
			[]api.Event{ok, vip},
			[]string{
				"dropped by d",
				`kept {"specversion":"1.0","id":"5","source":"/test","type":"order.created","subject":"vip","datacontenttype":"application/json","data":{"n":1}}`,
			}},
		{"connector keys around the chain are ignored",
			map[string]string{"name": "orders", "source": "generator", "source.count": "3", "sink": "file", "sink.path": "/tmp/x",
				"tasks.max": "2", "errors.tolerance": "all", "transforms": "r", "transforms.r.type": "settype", "transforms.r.to": "t"},
			[]api.Event{ok},
			[]string{`kept {"specversion":"1.0","id":"1","source":"/test","type":"t","datacontenttype":"application/json","data":{"n":1}}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := newPreviewWorker(t).PreviewTransforms(context.Background(), tt.config, tt.events)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.events) {
				t.Fatalf("%d results for %d events", len(got), len(tt.events))
			}
			sum := previewSummary(got)
			if strings.Join(sum, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(sum, "\n"), strings.Join(tt.want, "\n"))
			}
			for i, r := range got {
				if r.Events == nil {
					t.Errorf("result %d: Events is nil; it must encode as []", i)
				}
				for _, e := range r.Events {
					var back api.Event
					if err := json.Unmarshal(e, &back); err != nil {
						t.Errorf("result %d: output does not decode as a CloudEvent: %v", i, err)
					}
				}
			}
		})
	}
}

// TestPreviewInvalidChain checks that a bad chain fails as connector
// validation does: a *api.ValidationError naming full keys, never quoting
// a secret.
func TestPreviewInvalidChain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config map[string]string
		want   []string // "field: message" substrings, in order
	}{
		{"missing type", map[string]string{"transforms": "a"}, []string{"transforms.a.type"}},
		{"unknown plugin", map[string]string{"transforms": "a", "transforms.a.type": "nope"}, []string{`transforms.a.type: unknown transform plugin "nope"`}},
		{"missing required field", map[string]string{"transforms": "a", "transforms.a.type": "settype"}, []string{"transforms.a.to"}},
		{"unlisted alias", map[string]string{"transforms.b.type": "settype"}, []string{`transforms.b.type: alias "b" is not listed in transforms`}},
		{"unlisted predicate", map[string]string{"transforms": "a", "transforms.a.type": "exts", "transforms.a.predicate": "p"},
			[]string{`transforms.a.predicate: predicate "p" is not listed in predicates`}},
		{"bad predicate", map[string]string{"predicates": "p", "predicates.p.type": "subject"}, []string{"predicates.p.is"}},
		{"unknown key", map[string]string{"transfroms": "a"}, []string{"transfroms: unknown configuration key"}},
		{"secret reference", map[string]string{"transforms": "a", "transforms.a.type": "settype", "transforms.a.to": "${env:HOME}"},
			[]string{"transforms.a.to: secret references are not resolved in a preview"}},
		{"bad negate", map[string]string{"transforms": "a", "transforms.a.type": "exts", "transforms.a.negate": "perhaps"}, []string{"transforms.a.negate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newPreviewWorker(t).PreviewTransforms(context.Background(), tt.config, []api.Event{previewEvent("1", "t", "")})
			var ve *api.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v (%T), want *api.ValidationError", err, err)
			}
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field+": "+f.Message)
			}
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("errors\n%s\nlack %q", all, w)
				}
			}
		})
	}
}

// TestPreviewMatchesConnectorValidation: the field errors of a bad chain
// are the ones Validate reports for the same chain inside a connector.
func TestPreviewMatchesConnectorValidation(t *testing.T) {
	t.Parallel()
	w := newPreviewWorker(t)
	chain := map[string]string{
		"transforms": "a,b,a", "transforms.a.type": "settype", "transforms.b.type": "nope",
		"transforms.b.predicate": "q", "predicates": "p", "predicates.p.type": "subject", "transforms.c.x": "1",
	}
	_, err := w.PreviewTransforms(context.Background(), chain, nil)
	var ve *api.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	infos, err := w.Validate(context.Background(), "", chain)
	if err != nil {
		t.Fatal(err)
	}
	fromValidate := map[string]bool{}
	for _, c := range infos.Configs {
		for _, e := range c.Value.Errors {
			fromValidate[c.Value.Name+": "+e] = true
		}
	}
	for _, f := range ve.Fields {
		if !fromValidate[f.Field+": "+f.Message] {
			t.Errorf("preview reports %q, which connector validation does not", f.Field+": "+f.Message)
		}
	}
	if len(ve.Fields) < 4 {
		t.Errorf("only %d errors: %v", len(ve.Fields), ve)
	}
}

func TestPreviewRefusals(t *testing.T) {
	t.Parallel()
	w := newPreviewWorker(t)
	ctx := context.Background()
	many := make([]api.Event, worker.MaxPreviewEvents+1)
	for i := range many {
		many[i] = previewEvent(fmt.Sprint(i), "t", "")
	}
	if _, err := w.PreviewTransforms(ctx, nil, many); !errors.Is(err, worker.ErrBadRequest) {
		t.Errorf("%d events: err = %v, want ErrBadRequest", len(many), err)
	}
	if res, err := w.PreviewTransforms(ctx, nil, many[:worker.MaxPreviewEvents]); err != nil || len(res) != worker.MaxPreviewEvents {
		t.Errorf("%d events: %d results, err %v", worker.MaxPreviewEvents, len(res), err)
	}
	const token = "tok-very-secret"
	_, err := w.PreviewTransforms(ctx, map[string]string{"transforms": "n", "transforms.n.type": "nonew", "transforms.n.token": token}, many[:1])
	if !errors.Is(err, worker.ErrBadRequest) || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), `transform "n" (nonew)`) {
		t.Errorf("failing constructor: err = %v; want ErrBadRequest naming the step, without the token", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := w.PreviewTransforms(cctx, nil, many[:3]); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled ctx: err = %v", err)
	}
}

// TestPreviewClosesChain: every transform a preview builds is closed when
// it returns. Not parallel: it reads the package-wide counters.
func TestPreviewClosesChain(t *testing.T) {
	w := newPreviewWorker(t)
	built, closed := workertest.PreviewBuilt.Load(), workertest.PreviewClosed.Load()
	cfg := map[string]string{"transforms": "a,b,c", "transforms.a.type": "exts", "transforms.b.type": "settype", "transforms.b.to": "x",
		"transforms.c.type": "fail", "transforms.c.predicate": "p", "predicates": "p", "predicates.p.type": "subject", "predicates.p.is": "x"}
	if _, err := w.PreviewTransforms(context.Background(), cfg, []api.Event{previewEvent("1", "t", "")}); err != nil {
		t.Fatal(err)
	}
	if b, c := workertest.PreviewBuilt.Load()-built, workertest.PreviewClosed.Load()-closed; b != 3 || c != 3 {
		t.Errorf("built %d, closed %d; want 3 and 3", b, c)
	}
}
