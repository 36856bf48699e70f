package transform_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform"
	"github.com/ferryhq/ferry/transform/template"
)

func newTemplate(t *testing.T, raw map[string]string) api.Transform {
	t.Helper()
	cfg, err := transform.Template.Spec.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transform.Template.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTemplateTransform(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		raw      map[string]string
		data     string
		wantData string
		wantType string
	}{
		{"json template", map[string]string{"form": "TEMPLATE", "value": `{"id": "$.data.order.id", "n": "$.data.n"}`,
			"template": `{"order": "o-${id}", "n": ${n}}`}, `{"order": {"id": "42"}, "n": 3}`, `{"order": "o-42", "n": 3}`, "application/json"},
		{"text template", map[string]string{"form": "TEMPLATE", "value": `{"id": "$.data.order.id"}`,
			"template": `Order ${id} paid`}, `{"order": {"id": "42"}}`, `Order 42 paid`, "text/plain"},
		{"jsonpath object", map[string]string{"form": "JSONPATH", "value": "$.data.order"},
			`{"order": {"id": "42"}}`, `{"id": "42"}`, "application/json"},
		{"jsonpath string", map[string]string{"form": "JSONPATH", "value": "$.data.order.id"},
			`{"order": {"id": "x42"}}`, `x42`, "text/plain"},
		{"constant", map[string]string{"form": "CONSTANT", "value": "hello"}, `{}`, `hello`, "text/plain"},
		{"json constant", map[string]string{"form": "CONSTANT", "value": `{"fixed": 1}`}, `{}`, `{"fixed": 1}`, "application/json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tr := newTemplate(t, c.raw)
			r := api.Record{Event: api.Event{ID: "1", Source: "s", Type: "t", DataContentType: "application/json",
				DataSchema: "https://schemas.example/order.json", Data: []byte(c.data)}}
			keep, err := tr.Apply(&r)
			if err != nil || !keep {
				t.Fatalf("Apply = %v, %v", keep, err)
			}
			if string(r.Event.Data) != c.wantData || r.Event.DataContentType != c.wantType {
				t.Errorf("data %q (%s), want %q (%s)", r.Event.Data, r.Event.DataContentType, c.wantData, c.wantType)
			}
			if r.Event.DataSchema != "" {
				t.Errorf("dataschema kept: %q", r.Event.DataSchema)
			}
		})
	}
}

// TestTemplateTransformSlab checks that renders sharing one slab stay
// apart: every record keeps its own output however many follow it, and a
// later transform appending to one record's data does not touch the next.
func TestTemplateTransformSlab(t *testing.T) {
	t.Parallel()
	tr := newTemplate(t, map[string]string{"form": "TEMPLATE", "value": `{"n": "$.data.n"}`, "template": `{"n": ${n}}`})
	const n = 5000 // several slabs
	recs := make([]api.Record, n)
	for i := range recs {
		recs[i].Event = api.Event{ID: "x", Source: "s", Type: "t", DataContentType: "application/json",
			Data: []byte(`{"n": ` + strconv.Itoa(i) + `, "pad": "` + strings.Repeat("p", i%300) + `"}`)}
		if keep, err := tr.Apply(&recs[i]); err != nil || !keep {
			t.Fatalf("Apply %d = %v, %v", i, keep, err)
		}
		if i%7 == 0 {
			recs[i].Event.Data = append(recs[i].Event.Data, "tail"...)
		}
	}
	for i := range recs {
		want := `{"n": ` + strconv.Itoa(i) + `}`
		if i%7 == 0 {
			want += "tail"
		}
		if got := string(recs[i].Event.Data); got != want {
			t.Fatalf("record %d: data %q, want %q", i, got, want)
		}
	}
}

func TestTemplateTransformOriginal(t *testing.T) {
	t.Parallel()
	tr := newTemplate(t, map[string]string{"form": "ORIGINAL"})
	r := api.Record{Event: api.Event{ID: "1", Source: "s", Type: "t", Data: []byte(`{"a":1}`)}}
	if _, err := tr.Apply(&r); err != nil {
		t.Fatal(err)
	}
	want := `{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"a":1}}`
	if string(r.Event.Data) != want || r.Event.DataContentType != "application/json" {
		t.Fatalf("got %s (%s)", r.Event.Data, r.Event.DataContentType)
	}
	// Output records do not share a buffer: the next Apply leaves this one.
	r2 := api.Record{Event: api.Event{ID: "2", Source: "s", Type: "t", Data: []byte(`{"a":2}`)}}
	if _, err := tr.Apply(&r2); err != nil || string(r.Event.Data) != want {
		t.Fatalf("first record changed to %s (%v)", r.Event.Data, err)
	}
}

func TestTemplateTransformBadData(t *testing.T) {
	t.Parallel()
	tr := newTemplate(t, map[string]string{"form": "JSONPATH", "value": "$.data.a"})
	r := api.Record{Event: api.Event{ID: "1", Source: "s", Type: "t", Data: []byte(`{"a": `)}}
	if _, err := tr.Apply(&r); !api.IsFatal(err) || !errors.Is(err, template.ErrData) {
		t.Fatalf("err = %v, want a fatal record error wrapping ErrData", err)
	}
}

func TestTemplateSpecRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		raw  map[string]string
		want string // at validation (Spec.Parse) or, when it needs several fields, at New
	}{
		{"no form", map[string]string{}, "form: is required"},
		{"bad form", map[string]string{"form": "XPATH"}, "form: must be one of ORIGINAL, JSONPATH, CONSTANT, TEMPLATE"},
		{"bad placeholder (aws)", map[string]string{"form": "TEMPLATE", "value": "{}", "template": "${a", "dialect": "aws"}, "template: unterminated placeholder"},
		{"bad variable path", map[string]string{"form": "TEMPLATE", "value": `{"a": "$.x[?("}`, "template": "${a}"}, `value: variable "a": invalid JSONPath`},
		{"undefined variable (aws)", map[string]string{"form": "TEMPLATE", "value": `{"a": "$.id"}`, "template": "${b}", "dialect": "aws"}, "template: ${b} has no variable"},
		{"constant variable (aws)", map[string]string{"form": "TEMPLATE", "value": `{"a": "text"}`, "template": "${a}", "dialect": "aws"}, `JSONPath "text" must start with $`},
		{"unknown dialect", map[string]string{"form": "CONSTANT", "value": "x", "dialect": "gcp"}, "dialect: must be one of alibaba, aws"},
		{"dialect case", map[string]string{"form": "CONSTANT", "value": "x", "dialect": "AWS"}, "dialect: must be one of alibaba, aws"},
		{"bad jsonpath", map[string]string{"form": "JSONPATH", "value": "data.id"}, `value: JSONPath "data.id" must start with $`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := transform.Template.Spec.Parse(c.raw)
			if err == nil {
				_, err = transform.Template.New(cfg)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestPluginsIncludeTemplate(t *testing.T) {
	t.Parallel()
	for _, p := range transform.Plugins() {
		if p.Name == "template" {
			return
		}
	}
	t.Fatal("template is not registered")
}

func TestTemplateValidateNamesTheField(t *testing.T) {
	t.Parallel()
	cfg, err := transform.Template.Spec.Parse(map[string]string{"form": "TEMPLATE", "value": `{"id": "$.data.id"}`, "template": `{"x": "${missing}"}`, "dialect": "aws"})
	if err != nil {
		t.Fatal(err)
	}
	err = transform.Template.Validate(cfg)
	var fe api.FieldError
	if !errors.As(err, &fe) || fe.Field != "template" || !strings.Contains(fe.Message, "missing") {
		t.Fatalf("Validate = %#v, want a FieldError on template naming the variable", err)
	}
}

// TestTemplateDialect: the default dialect, alibaba, keeps a placeholder
// with no variable or a missing value as written, writes null for null and
// takes a variable that is not a JSONPath as a constant; aws does not.
func TestTemplateDialect(t *testing.T) {
	t.Parallel()
	raw := map[string]string{"form": "TEMPLATE", "value": `{"id": "$.data.id", "n": "$.data.n", "gone": "$.data.gone", "c": "fixed"}`,
		"template": "id=${id} n=${n} gone=${gone} c=${c} undefined=${u}"}
	cfg, err := transform.Template.Spec.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := transform.Template.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	tr, err := transform.Template.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := api.Record{Event: api.Event{ID: "1", Source: "s", Type: "t", DataContentType: "application/json", Data: []byte(`{"id": "o-1", "n": null}`)}}
	if _, err := tr.Apply(&r); err != nil {
		t.Fatal(err)
	}
	if got, want := string(r.Event.Data), "id=o-1 n=null gone=${gone} c=fixed undefined=${u}"; got != want {
		t.Errorf("alibaba: %q, want %q", got, want)
	}
}
