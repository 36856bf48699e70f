package smt

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ferryhq/ferry/api"
)

// MaskField replaces field values with an empty value of their type or a
// given replacement (Kafka's MaskField$Value).
var MaskField = api.TransformPlugin{
	Name:    "mask-field",
	Summary: "Replace field values with an empty value of their JSON type or a replacement (Kafka MaskField).",
	Spec: api.Spec{
		{Name: "fields", Type: api.TypeList, Required: true,
			Description: "Fields to mask; dots address nested fields (buyer.phone). Missing fields are left missing."},
		{Name: "replacement", Type: api.TypeString,
			Description: `Replacement for string fields, and for number and boolean fields when it parses as one. Without it: "" for strings, 0 for numbers, false for booleans, {} and [] for objects and arrays; null stays null.`},
	},
	New: func(c api.Config) (api.Transform, error) {
		t := &maskField{codec: newCodec(), fields: c.List("fields")}
		if c.Has("replacement") {
			s := c.String("replacement")
			t.replacement = &s
		}
		return t, nil
	},
}

type maskField struct {
	*codec
	fields      []string
	replacement *string
}

// Apply masks each configured field present in the data. Null data passes
// through.
func (t *maskField) Apply(r *api.Record) (bool, error) {
	obj, err := decodeObject(&r.Event)
	if err != nil || obj == nil {
		return err == nil, recordError(MaskField.Name, "", err)
	}
	for _, f := range t.fields {
		p, i, ok := lookup(obj, f)
		if !ok {
			continue
		}
		m, err := t.mask(p.vals[i])
		if err != nil {
			return false, recordError(MaskField.Name, f, err)
		}
		p.vals[i] = m
	}
	if err := t.setData(&r.Event, obj); err != nil {
		return false, recordError(MaskField.Name, "", err)
	}
	return true, nil
}

func (t *maskField) mask(v any) (any, error) {
	if t.replacement == nil {
		switch v.(type) {
		case string:
			return "", nil
		case json.Number:
			return json.Number("0"), nil
		case bool:
			return false, nil
		case *object:
			return newObject(0), nil
		case []any:
			return []any{}, nil
		default:
			return nil, nil
		}
	}
	rep := *t.replacement
	switch v.(type) {
	case nil:
		return nil, nil
	case string:
		return rep, nil
	case json.Number:
		if !isJSONNumber(rep) {
			return nil, fmt.Errorf("%w: replacement %q is not a number", ErrConvert, rep)
		}
		return json.Number(rep), nil
	case bool:
		b, err := strconv.ParseBool(rep)
		if err != nil {
			return nil, fmt.Errorf("%w: replacement %q is not a boolean", ErrConvert, rep)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("%w: cannot mask a %s with a replacement", ErrConvert, kindOf(v))
	}
}

// isJSONNumber reports whether s is a number in JSON's grammar, which
// json.Number requires to encode.
func isJSONNumber(s string) bool {
	return s != "" && json.Valid([]byte(s)) && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))
}
