package smt

import (
	"github.com/ferryhq/ferry/api"
)

var setExtensionSpec = api.Spec{
	{Name: "name", Type: api.TypeString, Required: true, Check: checkExtensionName,
		Description: "Extension attribute to set (lower-case letters and digits, per CloudEvents)."},
	{Name: "value", Type: api.TypeString, Description: "Static string value (Kafka value.literal)."},
	{Name: "field", Type: api.TypeString,
		Description: "Data field whose value to copy instead; dots address nested fields. Strings, booleans and integers keep their type, other numbers become float64 (or text when that would round), objects and arrays their JSON text, null removes the extension. A missing field fails the record."},
}

// SetExtension sets a CloudEvents extension attribute, Ferry's equivalent
// of a Kafka header (Kafka's InsertHeader).
var SetExtension = api.TransformPlugin{
	Name:    "set-extension",
	Summary: "Set an extension attribute (Kafka header) to a static value or a data field's value (Kafka InsertHeader).",
	Spec:    setExtensionSpec,
	New:     func(c api.Config) (api.Transform, error) { return newSetExtension("set-extension", c) },
}

// InsertHeader is SetExtension under the name Kafka Connect users look
// for.
var InsertHeader = api.TransformPlugin{
	Name:    "insert-header",
	Summary: "Alias of set-extension (Kafka InsertHeader): extensions are CloudEvents' headers.",
	Spec:    setExtensionSpec,
	New:     func(c api.Config) (api.Transform, error) { return newSetExtension("insert-header", c) },
}

// newSetExtension builds either plugin; errors name the one configured.
func newSetExtension(plugin string, c api.Config) (api.Transform, error) {
	hasValue, field := c.Has("value"), c.String("field")
	switch {
	case hasValue && field != "":
		return nil, configError("field", "set value or field, not both")
	case !hasValue && field == "":
		return nil, configError("value", "set value or field")
	}
	return &setExtension{codec: newCodec(), plugin: plugin, name: c.String("name"), value: c.String("value"), field: field}, nil
}

type setExtension struct {
	*codec
	plugin, name, value, field string
}

// Apply sets the extension. With a static value it never reads the data.
func (t *setExtension) Apply(r *api.Record) (bool, error) {
	ev := &r.Event
	if t.field == "" {
		ev.SetExtension(t.name, t.value)
		return true, nil
	}
	v, err := decode(ev)
	if err != nil {
		return false, recordError(t.plugin, "", err)
	}
	x, ok := get(v, t.field)
	if !ok {
		return false, recordError(t.plugin, t.field, ErrMissingField)
	}
	if x == nil {
		delete(ev.Extensions, t.name)
		return true, nil
	}
	ext, err := t.extensionValue(x)
	if err != nil {
		return false, recordError(t.plugin, t.field, err)
	}
	ev.SetExtension(t.name, ext)
	return true, nil
}

// DropExtension removes extension attributes (Kafka's DropHeaders).
var DropExtension = api.TransformPlugin{
	Name:    "drop-extension",
	Summary: "Remove extension attributes (Kafka DropHeaders).",
	Spec: api.Spec{
		{Name: "names", Type: api.TypeList, Required: true, Check: checkExtensionList, Description: "Extension attributes to remove."},
	},
	New: func(c api.Config) (api.Transform, error) {
		return dropExtension(c.List("names")), nil
	},
}

type dropExtension []string

// Apply removes the extensions; absent ones are ignored.
func (t dropExtension) Apply(r *api.Record) (bool, error) {
	for _, n := range t {
		delete(r.Event.Extensions, n)
	}
	return true, nil
}
