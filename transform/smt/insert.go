package smt

import (
	"encoding/base64"
	"time"
	"unicode/utf8"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/internal/rawjson"
)

// InsertField adds fields to the data object: a static value and any of
// the record's attributes (Kafka's InsertField$Value).
var InsertField = api.TransformPlugin{
	Name:    "insert-field",
	Summary: "Insert a static value or the event's id, type, source, subject, time, partition or position into the data object (Kafka InsertField).",
	Spec: api.Spec{
		{Name: "static.field", Type: api.TypeString, Description: "Field to set to static.value."},
		{Name: "static.value", Type: api.TypeString, Description: "Value of static.field."},
		{Name: "static.type", Type: api.TypeString, Default: "string", Enum: []string{"string", "json"},
			Description: "string inserts static.value as a JSON string; json parses it as a JSON value (number, boolean, object, …)."},
		{Name: "id.field", Type: api.TypeString, Description: "Field to set to the event's id."},
		{Name: "type.field", Type: api.TypeString, Description: "Field to set to the event's type."},
		{Name: "source.field", Type: api.TypeString, Description: "Field to set to the event's source."},
		{Name: "subject.field", Type: api.TypeString, Description: "Field to set to the event's subject (Kafka topic.field); null when it has none."},
		{Name: "time.field", Type: api.TypeString, Description: "Field to set to the event's time as an RFC 3339 string (Kafka timestamp.field); null when it has none."},
		{Name: "partition.field", Type: api.TypeString, Description: "Field to set to the record's source partition."},
		{Name: "position.field", Type: api.TypeString, Description: "Field to set to the record's source position (Kafka offset.field): its text, or base64 when it is not UTF-8; null when it has none."},
	},
	New: newInsertField,
}

type insertField struct {
	*codec
	static                             any
	staticField, id, typ, source, subj string
	timeField, partition, position     string
}

func newInsertField(c api.Config) (api.Transform, error) {
	t := &insertField{codec: newCodec(),
		staticField: c.String("static.field"), id: c.String("id.field"), typ: c.String("type.field"),
		source: c.String("source.field"), subj: c.String("subject.field"), timeField: c.String("time.field"),
		partition: c.String("partition.field"), position: c.String("position.field")}
	if t.staticField != "" {
		if !c.Has("static.value") {
			return nil, configError("static.value", "is required with static.field")
		}
		t.static = c.String("static.value")
		if c.String("static.type") == "json" {
			v, err := decode(&api.Event{Data: []byte(c.String("static.value"))})
			if err != nil || len(rawjson.Trim([]byte(c.String("static.value")))) == 0 {
				return nil, configError("static.value", "must be a JSON value when static.type is json")
			}
			t.static = v
		}
	} else if c.Has("static.value") {
		return nil, configError("static.field", "is required with static.value")
	}
	if t.staticField+t.id+t.typ+t.source+t.subj+t.timeField+t.partition+t.position == "" {
		return nil, configError("static.field", "set at least one of the *.field settings")
	}
	return t, nil
}

// Apply inserts the configured fields. Null data (a tombstone) passes
// through, as in Kafka.
func (t *insertField) Apply(r *api.Record) (bool, error) {
	obj, err := decodeObject(&r.Event)
	if err != nil || obj == nil {
		return err == nil, recordError(InsertField.Name, "", err)
	}
	ev := &r.Event
	set := func(field string, v any) {
		if field != "" {
			obj.set(field, v)
		}
	}
	set(t.staticField, t.static)
	set(t.id, ev.ID)
	set(t.typ, ev.Type)
	set(t.source, ev.Source)
	set(t.subj, nullIfEmpty(ev.Subject))
	if t.timeField != "" {
		if ev.Time.IsZero() {
			obj.set(t.timeField, nil)
		} else {
			obj.set(t.timeField, ev.Time.UTC().Format(time.RFC3339Nano))
		}
	}
	set(t.partition, r.Partition)
	if t.position != "" {
		switch {
		case r.Position == nil:
			obj.set(t.position, nil)
		case utf8.Valid(r.Position):
			obj.set(t.position, string(r.Position))
		default:
			obj.set(t.position, base64.StdEncoding.EncodeToString(r.Position))
		}
	}
	if err := t.setData(ev, obj); err != nil {
		return false, recordError(InsertField.Name, "", err)
	}
	return true, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
