package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/pattern"
)

// ParamSpec declares a sink parameter whose value is either a constant or
// rendered from each event. Declared once, it yields both the config fields
// and the compiled Param, so the two cannot drift apart.
type ParamSpec struct {
	// Name is the parameter's key relative to the sink's prefix ("topic"
	// for sink.topic).
	Name        string
	Description string
	// Required means one of Name or Name.form must be set.
	Required bool
	// Dialect is whose rendering applies: pattern.Alibaba (the zero value)
	// renders as Alibaba Cloud EventBridge renders a target's parameters,
	// pattern.AWS as Compile does.
	Dialect pattern.Dialect
}

// The suffixes of the keys of a parameter rendered from the event.
const (
	suffixForm     = ".form"
	suffixValue    = ".value"
	suffixTemplate = ".template"
)

// Fields returns the config fields of the parameter: Name (a constant),
// Name.form, Name.value and Name.template. None is marked required,
// because exactly one of Name and Name.form must be set; Compile checks
// that, and the Check functions reject what can be judged from one field
// alone (a malformed template or JSONPath).
func (s ParamSpec) Fields() []api.Field {
	req := ""
	if s.Required {
		req = " Required: set either this key or " + s.Name + suffixForm + "."
	}
	return []api.Field{
		{Name: s.Name, Type: api.TypeString,
			Description: s.Description + " A constant; to take it from the event use " + s.Name + suffixForm + " instead." + req},
		{Name: s.Name + suffixForm, Type: api.TypeString, Enum: Forms,
			Description: "How " + s.Name + " is taken from each event: ORIGINAL (the whole event as JSON), JSONPATH, CONSTANT or TEMPLATE."},
		{Name: s.Name + suffixValue, Type: api.TypeString, Check: CheckValue,
			Description: "With " + s.Name + suffixForm + ": the JSONPath (JSONPATH), the string (CONSTANT), or the variables as a JSON object of name to JSONPath (TEMPLATE)."},
		{Name: s.Name + suffixTemplate, Type: api.TypeString, Check: CheckTemplateText,
			Description: "With " + s.Name + suffixForm + "=TEMPLATE: the text with ${name} placeholders; $${ writes a literal ${."},
	}
}

// Compile reads the parameter from a sink's parsed config. The error is an
// *api.ValidationError whose fields are relative to the sink's prefix.
func (s ParamSpec) Compile(cfg api.Config) (*Param, error) {
	p := &Param{name: s.Name}
	constant := cfg.Has(s.Name)
	form := cfg.String(s.Name + suffixForm)
	fail := func(field, msg string) (*Param, error) {
		return nil, &api.ValidationError{Fields: []api.FieldError{{Field: field, Message: msg}}}
	}
	if form == "" {
		for _, k := range []string{suffixValue, suffixTemplate} {
			if cfg.Has(s.Name + k) {
				return fail(s.Name+k, "is set without "+s.Name+suffixForm)
			}
		}
	}
	switch {
	case constant && form != "":
		return fail(s.Name+suffixForm, fmt.Sprintf("set either %s (a constant) or %s, not both", s.Name, s.Name+suffixForm))
	case constant:
		p.set, p.isConst, p.constant = true, true, cfg.String(s.Name)
		return p, nil
	case form == "":
		if s.Required {
			return fail(s.Name, fmt.Sprintf("is required: set %s or %s", s.Name, s.Name+suffixForm))
		}
		return p, nil
	}
	if err := CheckTemplateText(cfg.String(s.Name + suffixTemplate)); err != nil {
		return fail(s.Name+suffixTemplate, err.Error())
	}
	t, err := CompileDialect(form, cfg.String(s.Name+suffixValue), cfg.String(s.Name+suffixTemplate), s.Dialect)
	if err != nil {
		var te *Error
		if errors.As(err, &te) {
			return fail(s.Name+"."+te.Field, te.Msg)
		}
		return fail(s.Name+suffixForm, err.Error())
	}
	p.set, p.t = true, t
	if form == Constant {
		p.isConst, p.constant = true, cfg.String(s.Name+suffixValue)
	}
	return p, nil
}

// ParamFields returns the config fields of a parameter; see ParamSpec.
func ParamFields(name, description string, required bool) []api.Field {
	return ParamSpec{Name: name, Description: description, Required: required}.Fields()
}

// CompileParam compiles an optional parameter from a sink's config; an
// absent one is not IsSet. A sink with a required parameter uses
// ParamSpec.Compile, which also reports the missing key.
func CompileParam(cfg api.Config, name string) (*Param, error) {
	return ParamSpec{Name: name}.Compile(cfg)
}

// Param is a compiled sink parameter. It is immutable and safe for
// concurrent use.
type Param struct {
	name     string
	set      bool
	isConst  bool
	constant string
	t        *Template
}

// Name returns the parameter's key.
func (p *Param) Name() string { return p.name }

// IsSet reports whether the config sets the parameter at all.
func (p *Param) IsSet() bool { return p.set }

// Constant returns the value when it is the same for every event, so a
// sink can resolve it once (for example, open one producer per topic).
func (p *Param) Constant() (string, bool) { return p.constant, p.isConst }

// Render appends the parameter's value for ev to dst. A constant appends
// without allocating; an unset parameter appends nothing.
func (p *Param) Render(ev *api.Event, dst []byte) ([]byte, error) {
	switch {
	case p.isConst:
		return append(dst, p.constant...), nil
	case p.t == nil:
		return dst, nil
	}
	out, err := p.t.Render(ev, dst)
	if err != nil {
		return out, fmt.Errorf("%s: %w", p.name, err)
	}
	return out, nil
}

// CheckTemplateText rejects, for a config field's Check, a template text
// with an unterminated placeholder ("${" and no "}" after it). Sink
// parameters reject it in every dialect, although Alibaba's engine writes
// it as text: in a topic, a key or a URL a stray "${" is a mistake, not
// text anyone wants sent. Names and defaults are checked by Compile, per
// dialect.
func CheckTemplateText(tmpl string) error {
	for i := 0; ; i += 2 {
		j := strings.Index(tmpl[i:], "${")
		if j < 0 {
			return nil
		}
		i += j
		if i > 0 && tmpl[i-1] == '$' {
			continue // "$${", an escape
		}
		if !strings.Contains(tmpl[i+2:], "}") {
			return fmt.Errorf("unterminated placeholder at offset %d of the template (write $${ for a literal ${)", i)
		}
	}
}

// CheckValue rejects, for a config field's Check, a value that is plainly
// a variables map (a JSON object of strings starting with $) but names a
// malformed JSONPath. Any other value may be a valid constant or JSONPath
// depending on the form, which is another field; Compile decides those.
func CheckValue(v string) error {
	var m map[string]any
	if !strings.HasPrefix(v, "{") || json.Unmarshal([]byte(v), &m) != nil {
		return nil
	}
	for _, x := range m {
		if s, ok := x.(string); !ok || !strings.HasPrefix(s, "$") {
			return nil
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if _, err := compilePath(m[name].(string)); err != nil {
			return fmt.Errorf("variable %q: %w", name, err)
		}
	}
	return nil
}
