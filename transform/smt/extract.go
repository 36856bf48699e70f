package smt

import (
	"github.com/ferryhq/ferry/api"
)

// ExtractField replaces the data with one of its fields (Kafka's
// ExtractField$Value).
var ExtractField = api.TransformPlugin{
	Name:    "extract-field",
	Summary: "Replace the data with the value of one of its fields (Kafka ExtractField).",
	Spec: api.Spec{
		{Name: "field", Type: api.TypeString, Required: true, Description: "Field whose value becomes the data; dots address nested fields (after.order)."},
		{Name: "on.missing", Type: api.TypeString, Default: "fail", Enum: []string{"fail", "null", "skip"},
			Description: "When the field is missing: fail the record, set the data to null (Kafka's behaviour) or skip (pass the record unchanged)."},
	},
	New: func(c api.Config) (api.Transform, error) {
		return &extractField{codec: newCodec(), field: c.String("field"), onMissing: c.String("on.missing")}, nil
	},
}

type extractField struct {
	*codec
	field, onMissing string
}

// Apply replaces the data. Null data passes through.
func (t *extractField) Apply(r *api.Record) (bool, error) {
	obj, err := decodeObject(&r.Event)
	if err != nil || obj == nil {
		return err == nil, recordError(ExtractField.Name, "", err)
	}
	p, i, ok := lookup(obj, t.field)
	var v any
	switch {
	case ok:
		v = p.vals[i]
	case t.onMissing == "skip":
		return true, nil
	case t.onMissing == "fail":
		return false, recordError(ExtractField.Name, t.field, ErrMissingField)
	}
	if err := t.setData(&r.Event, v); err != nil {
		return false, recordError(ExtractField.Name, t.field, err)
	}
	return true, nil
}

// HoistField wraps the data in an object under one field (Kafka's
// HoistField$Value).
var HoistField = api.TransformPlugin{
	Name:    "hoist-field",
	Summary: "Wrap the data in an object under one field: {field: data} (Kafka HoistField).",
	Spec: api.Spec{
		{Name: "field", Type: api.TypeString, Required: true, Description: "Name of the field that holds the original data."},
	},
	New: func(c api.Config) (api.Transform, error) {
		return &hoistField{codec: newCodec(), field: c.String("field")}, nil
	},
}

type hoistField struct {
	*codec
	field string
}

// Apply wraps the data; null data is wrapped too ({field: null}), as in
// Kafka.
func (t *hoistField) Apply(r *api.Record) (bool, error) {
	v, err := decode(&r.Event)
	if err != nil {
		return false, recordError(HoistField.Name, "", err)
	}
	if err := t.setData(&r.Event, &object{keys: []string{t.field}, vals: []any{v}}); err != nil {
		return false, recordError(HoistField.Name, "", err)
	}
	return true, nil
}
