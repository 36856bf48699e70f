package transform

import (
	"errors"
	"fmt"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/pattern"
	"github.com/ferryhq/ferry/transform/template"
)

// Template rewrites each event's data with an EventBridge event transform
// (ORIGINAL, JSONPATH, CONSTANT or TEMPLATE).
var Template = api.TransformPlugin{
	Name:    "template",
	Summary: "Rewrite event data with an EventBridge event transform (ORIGINAL, JSONPATH, CONSTANT, TEMPLATE).",
	Spec: api.Spec{
		{Name: "form", Type: api.TypeString, Required: true, Enum: template.Forms,
			Description: "ORIGINAL: the whole event as JSON; JSONPATH: one value of the event; CONSTANT: a fixed string; TEMPLATE: variables substituted into a template."},
		{Name: "value", Type: api.TypeString, Check: template.CheckValue,
			Description: `The JSONPath (JSONPATH, e.g. $.data.order.id), the string (CONSTANT), or the variables as a JSON object of name to JSONPath (TEMPLATE, e.g. {"id":"$.data.id"}).`},
		{Name: "template", Type: api.TypeString,
			Description: `With form TEMPLATE: the text with ${name} placeholders, e.g. {"order":"${id}"}; $${ writes a literal ${.`},
		dialectField,
	},
	Validate: func(c api.Config) error {
		d, _ := pattern.ParseDialect(c.String("dialect")) // the Enum checked it
		_, err := template.CompileDialect(c.String("form"), c.String("value"), c.String("template"), d)
		var te *template.Error
		if errors.As(err, &te) {
			return api.FieldError{Field: te.Field, Message: te.Msg}
		}
		return err
	},
	New: func(c api.Config) (api.Transform, error) {
		d, err := pattern.ParseDialect(c.String("dialect"))
		if err != nil {
			return nil, err
		}
		t, err := template.CompileDialect(c.String("form"), c.String("value"), c.String("template"), d)
		if err != nil {
			return nil, err
		}
		return &rewrite{t: t}, nil
	},
}

type rewrite struct {
	t    *template.Template
	hint int // the last output's size, to allocate the next one once
	// slab holds the renders of many records back to back, so a batch
	// costs a few allocations instead of one per record. Each render is
	// capped at its own end, so an append by a later transform copies it
	// instead of overwriting a neighbour. A task applies its chain from
	// one goroutine, so the slab needs no lock.
	slab []byte
}

// slabSize is the size of one slab of renders: big enough for hundreds of
// typical outputs, small enough that a few records kept alive pin little,
// and under the runtime's 32 KiB limit for small objects, which come from
// per-core caches rather than the page heap.
const slabSize = 24 << 10

// Apply replaces the data with the render. The new data is application/json
// when it is valid JSON and text/plain otherwise; dataschema described the
// old data, so it is dropped. A record whose data cannot be read fails
// alone, under the connector's errors.tolerance.
func (w *rewrite) Apply(r *api.Record) (bool, error) {
	if cap(w.slab)-len(w.slab) < w.hint+64 {
		w.slab = make([]byte, 0, max(slabSize, 4*(w.hint+64)))
	}
	free := w.slab[len(w.slab):]
	out, err := w.t.Render(&r.Event, free)
	if err != nil {
		return false, api.Fatal(fmt.Errorf("template: %w", err))
	}
	w.hint = len(out)
	if len(out) > 0 && cap(free) > 0 && &out[0] == &free[:1][0] {
		w.slab = w.slab[:len(w.slab)+len(out)] // rendered in place
	}
	r.Event.Data = out[:len(out):len(out)]
	r.Event.DataSchema = ""
	if w.t.JSON() || api.ValidJSON(out) {
		r.Event.DataContentType = "application/json"
	} else {
		r.Event.DataContentType = "text/plain"
	}
	return true, nil
}
