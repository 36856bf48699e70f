package smt

import (
	"errors"
	"fmt"

	"github.com/ferryhq/ferry/api"
)

// Flatten turns nested objects into top-level fields whose names join the
// path with a delimiter (Kafka's Flatten$Value).
var Flatten = api.TransformPlugin{
	Name:    "flatten",
	Summary: "Flatten nested objects into top-level fields named by their path (Kafka Flatten).",
	Spec: api.Spec{
		{Name: "delimiter", Type: api.TypeString, Default: ".", Check: nonEmpty,
			Description: "Separator between the parts of a flattened field name."},
	},
	New: func(c api.Config) (api.Transform, error) {
		return &flatten{codec: newCodec(), delim: c.String("delimiter")}, nil
	},
}

func nonEmpty(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	return nil
}

type flatten struct {
	*codec
	delim string
}

// Apply flattens the data object. Arrays are kept as values, not
// flattened; an empty nested object is kept as {} so no field vanishes. Two
// paths that flatten to the same name ({"a.b": 1, "a": {"b": 2}}) fail the
// record rather than silently losing one value. Null data passes through.
func (t *flatten) Apply(r *api.Record) (bool, error) {
	obj, err := decodeObject(&r.Event)
	if err != nil || obj == nil {
		return err == nil, recordError(Flatten.Name, "", err)
	}
	out := newObject(obj.len())
	if err := t.walk(out, "", obj); err != nil {
		return false, recordError(Flatten.Name, "", err)
	}
	if err := t.setData(&r.Event, out); err != nil {
		return false, recordError(Flatten.Name, "", err)
	}
	return true, nil
}

func (t *flatten) walk(out *object, prefix string, obj *object) error {
	for i, k := range obj.keys {
		v := obj.vals[i]
		name := k
		if prefix != "" {
			name = prefix + t.delim + k
		}
		if child, ok := objectOf(v); ok && child.len() > 0 {
			if err := t.walk(out, name, child); err != nil {
				return err
			}
			continue
		}
		if out.index(name) >= 0 {
			return fmt.Errorf("%w: more than one field flattens to %q", ErrConflict, name)
		}
		out.keys = append(out.keys, name)
		out.vals = append(out.vals, v)
	}
	return nil
}
