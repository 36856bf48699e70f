package template_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/pattern"
	"github.com/ferryhq/ferry/transform/template"
)

var (
	topic    = template.ParamSpec{Name: "topic", Description: "Destination topic.", Required: true}
	awsTopic = template.ParamSpec{Name: "topic", Description: "Destination topic.", Required: true, Dialect: pattern.AWS}
)

// parse runs a sink spec made of the parameter's fields, as the worker
// would, then compiles the parameter.
func parse(spec template.ParamSpec, raw map[string]string) (*template.Param, error) {
	cfg, err := api.Spec(spec.Fields()).Parse(raw)
	if err != nil {
		return nil, err
	}
	return spec.Compile(cfg)
}

func TestParam(t *testing.T) {
	t.Parallel()
	ev := orderEvent()
	cases := []struct {
		name     string
		raw      map[string]string
		want     string
		constant bool
	}{
		{"constant", map[string]string{"topic": "orders"}, "orders", true},
		{"empty constant", map[string]string{"topic": ""}, "", true},
		{"jsonpath", map[string]string{"topic.form": "JSONPATH", "topic.value": "$.data.order.buyer.name"}, "Zoë", false},
		{"constant form", map[string]string{"topic.form": "CONSTANT", "topic.value": "fixed"}, "fixed", true},
		{"template", map[string]string{"topic.form": "TEMPLATE", "topic.value": `{"t": "$.tenant", "s": "$.source"}`,
			"topic.template": "orders-${t}-${s}"}, "orders-t-9-acs.oss", false},
		{"original", map[string]string{"topic.form": "ORIGINAL"}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := parse(topic, c.raw)
			if err != nil {
				t.Fatal(err)
			}
			out, err := p.Render(ev, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "original" {
				if !strings.HasPrefix(string(out), `{"specversion":"1.0","id":"e-1"`) {
					t.Errorf("ORIGINAL rendered %s", out)
				}
			} else if string(out) != c.want {
				t.Errorf("Render = %q, want %q", out, c.want)
			}
			if v, ok := p.Constant(); ok != c.constant || (ok && v != c.want) {
				t.Errorf("Constant() = %q, %v", v, ok)
			}
			if !p.IsSet() || p.Name() != "topic" {
				t.Errorf("IsSet %v, Name %q", p.IsSet(), p.Name())
			}
		})
	}
}

func TestParamErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		spec  template.ParamSpec
		raw   map[string]string
		field string
		want  string
	}{
		{"both", topic, map[string]string{"topic": "a", "topic.form": "CONSTANT", "topic.value": "b"},
			"topic.form", `set either topic (a constant) or topic.form, not both`},
		{"required", topic, map[string]string{}, "topic", "is required: set topic or topic.form"},
		{"value without form", topic, map[string]string{"topic": "a", "topic.value": "$.id"}, "topic.value", "is set without topic.form"},
		{"template without form", template.ParamSpec{Name: "tag"}, map[string]string{"tag.template": "x"}, "tag.template", "is set without tag.form"},
		{"bad form", topic, map[string]string{"topic.form": "XML"}, "topic.form", "must be one of ORIGINAL, JSONPATH, CONSTANT, TEMPLATE"},
		{"bad jsonpath", topic, map[string]string{"topic.form": "JSONPATH", "topic.value": "$.data["}, "topic.value", `invalid JSONPath "$.data["`},
		{"undefined variable (aws)", awsTopic, map[string]string{"topic.form": "TEMPLATE", "topic.value": `{"a": "$.id"}`, "topic.template": "${b}"},
			"topic.template", "${b} has no variable"},
		{"bad name (aws)", awsTopic, map[string]string{"topic.form": "TEMPLATE", "topic.value": `{"a": "$.id"}`, "topic.template": "${a:-x}"},
			"topic.template", "bad placeholder ${a:-x}"},
		{"constant variable (aws)", awsTopic, map[string]string{"topic.form": "TEMPLATE", "topic.value": `{"a": "text"}`, "topic.template": "${a}"},
			"topic.value", `JSONPath "text" must start with $`},
		// Rejected by the fields' own checks, at config validation.
		{"unterminated placeholder", topic, map[string]string{"topic.form": "TEMPLATE", "topic.value": `{}`, "topic.template": "${a"},
			"topic.template", "unterminated placeholder at offset 0"},
		{"unterminated after a placeholder", topic, map[string]string{"topic.form": "TEMPLATE", "topic.value": `{"a": "$.id"}`, "topic.template": "${a}-${b"},
			"topic.template", "unterminated placeholder at offset 5"},
		{"unterminated (aws)", awsTopic, map[string]string{"topic.form": "TEMPLATE", "topic.value": `{}`, "topic.template": "x${"},
			"topic.template", "unterminated placeholder"},
		{"bad variable path", topic, map[string]string{"topic.form": "TEMPLATE", "topic.value": `{"a": "$.["}`, "topic.template": "${a}"},
			"topic.value", `variable "a": invalid JSONPath`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(c.spec, c.raw)
			var ve *api.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) != 1 {
				t.Fatalf("err = %v, want one field error", err)
			}
			if f := ve.Fields[0]; f.Field != c.field || !strings.Contains(f.Message, c.want) {
				t.Fatalf("got %s: %s; want %s: …%s…", f.Field, f.Message, c.field, c.want)
			}
		})
	}
}

// TestParamDialects renders the values the dialects treat differently: by
// default (alibaba) a parameter renders as Alibaba Cloud EventBridge
// renders a target parameter, the same engine as its event transforms.
func TestParamDialects(t *testing.T) {
	t.Parallel()
	ev := &api.Event{ID: "e-1", Source: "acs.oss", Type: "t", DataContentType: "application/json",
		Data: []byte(`{"n": null, "s": "a\"b", "o": {"k": 1}}`)}
	tmpl := func(vars, text string) map[string]string {
		return map[string]string{"topic.form": "TEMPLATE", "topic.value": vars, "topic.template": text}
	}
	cases := []struct {
		name         string
		raw          map[string]string
		alibaba, aws string
	}{
		{"missing as text", tmpl(`{"x": "$.data.none"}`, "k-${x}"), "k-${x}", "k-"},
		{"null as text", tmpl(`{"x": "$.data.n"}`, "k-${x}"), "k-null", "k-"},
		{"missing in JSON", tmpl(`{"x": "$.data.none"}`, `{"v": ${x}, "w": "k-${x}"}`), `{"v": null, "w": "k-${x}"}`, `{"v": null, "w": "k-"}`},
		{"null in JSON", tmpl(`{"x": "$.data.n"}`, `{"v": ${x}, "w": "k-${x}"}`), `{"v": null, "w": "k-null"}`, `{"v": null, "w": "k-"}`},
		{"string in JSON", tmpl(`{"x": "$.data.s"}`, `{"v": ${x}}`), `{"v": "a\"b"}`, `{"v": "a\"b"}`},
		{"JSONPATH missing", map[string]string{"topic.form": "JSONPATH", "topic.value": "$.data.none"}, "", ""},
		{"JSONPATH null", map[string]string{"topic.form": "JSONPATH", "topic.value": "$.data.n"}, "null", ""},
		{"JSONPATH object", map[string]string{"topic.form": "JSONPATH", "topic.value": "$.data.o"}, `{"k": 1}`, `{"k": 1}`},
		{"JSONPATH subject missing", map[string]string{"topic.form": "JSONPATH", "topic.value": "$.subject"}, "", ""},
		{"CONSTANT any text", map[string]string{"topic.form": "CONSTANT", "topic.value": "${not a placeholder"}, "${not a placeholder", "${not a placeholder"},
		{"no variables", tmpl(`{}`, "orders"), "orders", "orders"},
	}
	for _, c := range cases {
		for _, spec := range []template.ParamSpec{topic, awsTopic} {
			t.Run(c.name+"/"+spec.Dialect.String(), func(t *testing.T) {
				t.Parallel()
				p, err := parse(spec, c.raw)
				if err != nil {
					t.Fatal(err)
				}
				out, err := p.Render(ev, nil)
				want := c.alibaba
				if spec.Dialect == pattern.AWS {
					want = c.aws
				}
				if err != nil || string(out) != want {
					t.Fatalf("Render = %q, %v; want %q", out, err, want)
				}
			})
		}
	}
}

// TestParamAlibabaTemplates: in the alibaba dialect a sink parameter's
// template is read as Alibaba's engine reads it (defaults, kept
// placeholders, any name), which the aws dialect rejects.
func TestParamAlibabaTemplates(t *testing.T) {
	t.Parallel()
	ev := orderEvent()
	for _, c := range []struct{ vars, text, want string }{
		{`{"t": "$.tenant"}`, "orders-${t}-${region:-cn-hangzhou}", "orders-t-9-cn-hangzhou"},
		{`{"t": "$.none"}`, "orders-${t:-default}", "orders-default"},
		{`{"t": "$.tenant", "a b": "$.source"}`, "${a b}/${t}/${u}", "acs.oss/t-9/${u}"},
		{`{"t": "$.tenant", "kind": "orders"}`, "${kind}-${t}", "orders-t-9"},
	} {
		raw := map[string]string{"topic.form": "TEMPLATE", "topic.value": c.vars, "topic.template": c.text}
		p, err := parse(topic, raw)
		if err != nil {
			t.Fatalf("%s: %v", c.text, err)
		}
		if out, err := p.Render(ev, nil); err != nil || string(out) != c.want {
			t.Errorf("%s: Render = %q, %v; want %q", c.text, out, err, c.want)
		}
		if _, err := parse(awsTopic, raw); err == nil {
			t.Errorf("%s: the aws dialect accepted it", c.text)
		}
	}
}

func TestParamOptional(t *testing.T) {
	t.Parallel()
	p, err := template.CompileParam(api.NewConfig(map[string]string{"other": "x"}), "tag")
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Render(orderEvent(), []byte("k"))
	if p.IsSet() || err != nil || string(out) != "k" {
		t.Fatalf("unset param: set %v, out %q, err %v", p.IsSet(), out, err)
	}
	fields := template.ParamFields("tag", "Message tag.", false)
	if len(fields) != 4 || fields[0].Name != "tag" || fields[1].Name != "tag.form" || fields[2].Name != "tag.value" || fields[3].Name != "tag.template" {
		t.Fatalf("fields %+v", fields)
	}
	for _, f := range fields {
		if f.Required {
			t.Errorf("%s is Required; either-or keys cannot be", f.Name)
		}
	}
}

func TestParamRenderError(t *testing.T) {
	t.Parallel()
	p, err := parse(topic, map[string]string{"topic.form": "JSONPATH", "topic.value": "$.data.a"})
	if err != nil {
		t.Fatal(err)
	}
	ev := &api.Event{ID: "1", Source: "s", Type: "t", Data: []byte(`{"a": `)}
	if _, err := p.Render(ev, nil); !errors.Is(err, template.ErrData) || !strings.HasPrefix(err.Error(), "topic: ") {
		t.Fatalf("err = %v, want ErrData naming the parameter", err)
	}
}

func TestParamConstantDoesNotAllocate(t *testing.T) {
	p, err := parse(topic, map[string]string{"topic": "orders"})
	if err != nil {
		t.Fatal(err)
	}
	ev := orderEvent()
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf, _ = p.Render(ev, buf[:0]) }); n != 0 {
		t.Fatalf("constant render allocates %v times", n)
	}
}

func TestRenderDoesNotAllocate(t *testing.T) {
	tm := template.MustCompile(template.Tmpl, vars, `{"id": "x-${id}", "qty": ${qty}, "buyer": ${buyer}, "s": ${subject}, "p": ${priority}, "t": "${time}"}`)
	ev := orderEvent()
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf, _ = tm.Render(ev, buf[:0]) }); n != 0 {
		t.Fatalf("render allocates %v times", n)
	}
}
