package smt

import (
	"bytes"
	"encoding/json"

	"github.com/ferryhq/ferry/api"
)

// ValueToKey sets the record's key from data fields (Kafka's ValueToKey).
var ValueToKey = api.TransformPlugin{
	Name:    "value-to-key",
	Summary: "Set the record key to a JSON object of data fields (Kafka ValueToKey).",
	Spec: api.Spec{
		{Name: "fields", Type: api.TypeList, Required: true,
			Description: `Fields copied into the key, which becomes the JSON object {"f1":…,"f2":…} in this order; dots address nested fields and the key uses the path as given. A missing field fails the record.`},
	},
	New: func(c api.Config) (api.Transform, error) {
		return &valueToKey{codec: newCodec(), fields: c.List("fields")}, nil
	},
}

type valueToKey struct {
	*codec
	fields []string
}

// Apply sets r.Key and leaves the data untouched. Null data passes
// through with its key unchanged (a tombstone keeps the key it has).
func (t *valueToKey) Apply(r *api.Record) (bool, error) {
	obj, err := decodeObject(&r.Event)
	if err != nil || obj == nil {
		return err == nil, recordError(ValueToKey.Name, "", err)
	}
	// Built by hand rather than marshalled from a map, which would sort
	// the fields instead of keeping the configured order.
	var key bytes.Buffer
	key.WriteByte('{')
	for i, f := range t.fields {
		v, ok := get(obj, f)
		if !ok {
			return false, recordError(ValueToKey.Name, f, ErrMissingField)
		}
		if i > 0 {
			key.WriteByte(',')
		}
		name, _ := json.Marshal(f)
		key.Write(name)
		key.WriteByte(':')
		b, err := t.marshal(v)
		if err != nil {
			return false, recordError(ValueToKey.Name, f, err)
		}
		key.Write(b)
	}
	key.WriteByte('}')
	r.Key = key.Bytes()
	return true, nil
}
