package predicate_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/predicate"
	"github.com/ferryhq/ferry/transform/smt"
)

func record() api.Record {
	return api.Record{Event: api.Event{ID: "1", Source: "acs.rds", Type: "order.created", Subject: "shop.orders",
		Data: []byte(`{"status":"PAID","amount":300}`), Extensions: map[string]any{"tenant": "acme"}}}
}

func newPredicate(t *testing.T, p api.PredicatePlugin, raw map[string]string) (api.Predicate, error) {
	t.Helper()
	c, err := p.Spec.Parse(raw)
	if err != nil {
		return nil, err
	}
	return p.New(c)
}

func TestPredicates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		p    api.PredicatePlugin
		cfg  map[string]string
		edit func(*api.Record)
		want bool
		err  string
	}{
		{name: "pattern data", p: predicate.Pattern, cfg: map[string]string{"pattern": `{"data":{"status":["PAID"]}}`}, want: true},
		{name: "pattern data miss", p: predicate.Pattern, cfg: map[string]string{"pattern": `{"data":{"amount":[{"numeric":[">",300]}]}}`}, want: false},
		{name: "pattern attribute and extension", p: predicate.Pattern, cfg: map[string]string{"pattern": `{"source":["acs.rds"],"tenant":[{"prefix":"ac"}]}`}, want: true},
		{name: "pattern empty", p: predicate.Pattern, cfg: map[string]string{"pattern": `{}`}, want: true},
		{name: "pattern bad data", p: predicate.Pattern, cfg: map[string]string{"pattern": `{"data":{"status":["PAID"]}}`},
			edit: func(r *api.Record) { r.Event.Data = []byte(`{"status":`) }, err: "pattern"},
		{name: "has extension", p: predicate.HasExtension, cfg: map[string]string{"name": "tenant"}, want: true},
		{name: "has extension missing", p: predicate.HasExtension, cfg: map[string]string{"name": "region"}, want: false},
		{name: "has extension none at all", p: predicate.HasExtension, cfg: map[string]string{"name": "tenant"},
			edit: func(r *api.Record) { r.Event.Extensions = nil }, want: false},
		{name: "subject matches", p: predicate.SubjectMatches, cfg: map[string]string{"pattern": `shop\..*`}, want: true},
		{name: "subject matches whole only", p: predicate.SubjectMatches, cfg: map[string]string{"pattern": `orders`}, want: false},
		{name: "subject alternation anchored", p: predicate.SubjectMatches, cfg: map[string]string{"pattern": `x|shop\.orders`}, want: true},
		{name: "subject empty", p: predicate.SubjectMatches, cfg: map[string]string{"pattern": `.+`},
			edit: func(r *api.Record) { r.Event.Subject = "" }, want: false},
		{name: "type matches", p: predicate.TypeMatches, cfg: map[string]string{"pattern": `order\.(created|updated)`}, want: true},
		{name: "type miss", p: predicate.TypeMatches, cfg: map[string]string{"pattern": `order\.deleted`}, want: false},
		{name: "tombstone no data", p: predicate.IsTombstone, edit: func(r *api.Record) { r.Event.Data = nil }, want: true},
		{name: "tombstone null", p: predicate.IsTombstone, edit: func(r *api.Record) { r.Event.Data = []byte(" null\n") }, want: true},
		{name: "tombstone text null is text", p: predicate.IsTombstone,
			edit: func(r *api.Record) { r.Event.Data, r.Event.DataContentType = []byte("null"), "text/plain" }, want: false},
		{name: "not a tombstone", p: predicate.IsTombstone, want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := newPredicate(t, tc.p, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := record()
			if tc.edit != nil {
				tc.edit(&r)
			}
			got, err := p.Test(&r)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Test = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestPredicateConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		p          api.PredicatePlugin
		cfg        map[string]string
		field, msg string
	}{
		{"pattern missing", predicate.Pattern, nil, "pattern", "required"},
		{"pattern not JSON", predicate.Pattern, map[string]string{"pattern": `{`}, "pattern", "valid JSON"},
		{"pattern bad operator", predicate.Pattern, map[string]string{"pattern": `{"data":{"a":[{"nope":1}]}}`}, "pattern", "$.data.a[0]"},
		{"has-extension missing", predicate.HasExtension, nil, "name", "required"},
		{"subject bad regex", predicate.SubjectMatches, map[string]string{"pattern": `(`}, "pattern", "missing closing )"},
		{"type missing", predicate.TypeMatches, nil, "pattern", "required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := newPredicate(t, tc.p, tc.cfg)
			var ve *api.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != tc.field || !strings.Contains(ve.Fields[0].Message, tc.msg) {
				t.Errorf("err = %v, want field %s with %q", err, tc.field, tc.msg)
			}
		})
	}
}

// fixed is a predicate with a set answer.
type fixed struct {
	ok  bool
	err error
}

func (f fixed) Test(*api.Record) (bool, error) { return f.ok, f.err }

// closing is a transform with Close.
type closing struct{ closed *bool }

func (c closing) Apply(r *api.Record) (bool, error) { r.Event.Subject = "changed"; return true, nil }
func (c closing) Close() error                      { *c.closed = true; return nil }

func TestWrap(t *testing.T) {
	t.Parallel()
	drop, err := smt.Drop.New(api.NewConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		pred     bool
		negate   bool
		wantKeep bool
	}{
		{"predicate true applies", true, false, false},
		{"predicate false passes", false, false, true},
		{"negated true passes", true, true, true},
		{"negated false applies", false, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := predicate.Wrap(drop, fixed{ok: tc.pred}, tc.negate)
			r := record()
			before := string(r.Event.Data)
			keep, err := w.Apply(&r)
			if err != nil || keep != tc.wantKeep {
				t.Fatalf("Apply = %v, %v; want %v", keep, err, tc.wantKeep)
			}
			if string(r.Event.Data) != before {
				t.Errorf("record changed: %s", r.Event.Data)
			}
			if _, ok := w.(api.Closer); ok {
				t.Error("wrapper of a transform without Close implements api.Closer")
			}
		})
	}
}

func TestWrapWithRealPredicateAndSMT(t *testing.T) {
	t.Parallel()
	c, err := smt.ExtractField.Spec.Parse(map[string]string{"field": "amount"})
	if err != nil {
		t.Fatal(err)
	}
	extract, err := smt.ExtractField.New(c)
	if err != nil {
		t.Fatal(err)
	}
	paid, err := newPredicate(t, predicate.Pattern, map[string]string{"pattern": `{"data":{"status":["PAID"]}}`})
	if err != nil {
		t.Fatal(err)
	}
	w := predicate.Wrap(extract, paid, true) // extract from everything not PAID
	r := record()
	if keep, err := w.Apply(&r); !keep || err != nil || string(r.Event.Data) != `{"status":"PAID","amount":300}` {
		t.Errorf("PAID with negate: %v %v %s", keep, err, r.Event.Data)
	}
	r = record()
	r.Event.Data = []byte(`{"status":"NEW","amount":5}`)
	if keep, err := w.Apply(&r); !keep || err != nil || string(r.Event.Data) != `5` {
		t.Errorf("NEW with negate: %v %v %s", keep, err, r.Event.Data)
	}
}

func TestWrapPredicateError(t *testing.T) {
	t.Parallel()
	w := predicate.Wrap(closing{new(bool)}, fixed{err: errors.New("boom")}, false)
	r := record()
	_, err := w.Apply(&r)
	if err == nil || !api.IsFatal(err) || !errors.Is(err, predicate.ErrPredicate) || r.Event.Subject != "shop.orders" {
		t.Errorf("err = %v, subject %q; want a fatal predicate error and no change", err, r.Event.Subject)
	}
}

func TestWrapForwardsClose(t *testing.T) {
	t.Parallel()
	closed := false
	w := predicate.Wrap(closing{&closed}, fixed{ok: true}, false)
	c, ok := w.(api.Closer)
	if !ok {
		t.Fatal("wrapper does not implement api.Closer")
	}
	if err := c.Close(); err != nil || !closed {
		t.Errorf("Close = %v, closed = %v", err, closed)
	}
	r := record()
	if keep, err := w.Apply(&r); !keep || err != nil || r.Event.Subject != "changed" {
		t.Errorf("Apply = %v %v %q", keep, err, r.Event.Subject)
	}
}

func TestPlugins(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, p := range predicate.Plugins() {
		names[p.Name] = p.New != nil && p.Summary != ""
	}
	for _, n := range []string{"pattern", "has-extension", "subject-matches", "type-matches", "is-tombstone"} {
		if !names[n] {
			t.Errorf("plugin %s missing or incomplete", n)
		}
	}
}
