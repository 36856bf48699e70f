package smt

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ferryhq/ferry/api"
)

// Unwrap extracts the new row state from a Debezium change event
// (Debezium's ExtractNewRecordState): data {before, after, op, source,
// ts_ms} becomes the after state.
var Unwrap = api.TransformPlugin{
	Name:    "unwrap",
	Summary: "Replace a Debezium change envelope {before, after, op, source, ts_ms} with the row state (Debezium ExtractNewRecordState).",
	Spec: api.Spec{
		{Name: "delete.handling.mode", Type: api.TypeString, Default: "drop", Enum: []string{"drop", "rewrite", "none"},
			Description: `Deletes: drop them (and tombstones); rewrite them to the before state plus "__deleted": "true" (other rows get "false"); none keeps them with null data.`},
		{Name: "drop.tombstones", Type: api.TypeBool, Default: "true",
			Description: "With rewrite or none, also drop tombstones (records with no data)."},
		{Name: "add.fields", Type: api.TypeList, Check: checkAddFields,
			Description: "Envelope fields added to the row as <prefix><name>: op, ts_ms and other top-level fields by name, source fields by name (table, db) or as source.<name>; dots become _ (source.ts_ms → __source_ts_ms). Missing ones are null."},
		{Name: "add.fields.prefix", Type: api.TypeString, Default: "__", Description: "Prefix of added fields and of the deleted marker."},
		{Name: "add.headers", Type: api.TypeList, Check: checkAddFields,
			Description: "Envelope fields set as extension attributes named <prefix><name> with every character but letters and digits removed and lower-cased (source.ts_ms → sourcetsms). Missing ones are not set."},
		{Name: "add.headers.prefix", Type: api.TypeString, Check: checkHeaderPrefix,
			Description: "Prefix of added extension names (lower-case letters and digits)."},
	},
	New: newUnwrap,
}

func checkAddFields(v string) error {
	for _, f := range splitList(v) {
		if f == "source." || strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") {
			return fmt.Errorf("bad envelope field %q", f)
		}
	}
	return nil
}

func checkHeaderPrefix(v string) error {
	if v != "" && !validExtensionName(v) {
		return errors.New("must be lower-case letters and digits")
	}
	return nil
}

type envField struct {
	path []string // in the envelope: ["op"] or ["source", "table"]
	name string   // added field or extension name
}

type unwrap struct {
	*codec
	mode           string
	dropTombstones bool
	fields         []envField
	headers        []envField
	deleted        string
}

func newUnwrap(c api.Config) (api.Transform, error) {
	prefix := c.String("add.fields.prefix")
	t := &unwrap{codec: newCodec(), mode: c.String("delete.handling.mode"), dropTombstones: c.Bool("drop.tombstones"),
		deleted: prefix + "deleted"}
	for _, f := range c.List("add.fields") {
		t.fields = append(t.fields, envField{path: strings.Split(f, "."), name: prefix + strings.ReplaceAll(f, ".", "_")})
	}
	hp := c.String("add.headers.prefix")
	for _, f := range c.List("add.headers") {
		name := hp + extensionSafe(f)
		if err := checkExtensionName(name); err != nil {
			return nil, configError("add.headers", fmt.Sprintf("%q gives extension name %q: %v", f, name, err))
		}
		t.headers = append(t.headers, envField{path: strings.Split(f, "."), name: name})
	}
	return t, nil
}

func extensionSafe(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// envelopeValue reads a field of the envelope: a top-level field by name,
// else a field of source by name; "source.x" names source's field.
func envelopeValue(env *object, path []string) (any, bool) {
	if len(path) == 1 {
		if v, ok := env.get(path[0]); ok {
			return expand(v), true
		}
		path = []string{"source", path[0]}
	}
	var cur any = env
	for _, p := range path {
		obj, ok := objectOf(cur)
		if !ok {
			return nil, false
		}
		if cur, ok = obj.get(p); !ok {
			return nil, false
		}
	}
	return expand(cur), true
}

// Apply unwraps one change event. Records whose data is not an object
// holding before or after (schema changes, heartbeats, already flat rows)
// pass through, as Debezium passes records without an envelope.
func (t *unwrap) Apply(r *api.Record) (bool, error) {
	v, err := decode(&r.Event)
	if err != nil {
		return false, recordError(Unwrap.Name, "", err)
	}
	if v == nil { // tombstone
		return t.mode != "drop" && !t.dropTombstones, nil
	}
	env, ok := v.(*object)
	if !ok {
		return true, nil
	}
	before, hasBefore := env.get("before")
	after, hasAfter := env.get("after")
	if !hasBefore && !hasAfter {
		return true, nil
	}
	opv, _ := env.get("op")
	op, _ := expand(opv).(string)
	if op == "" && isNull(after) && !isNull(before) {
		op = "d"
	}
	ev := &r.Event
	for _, h := range t.headers {
		x, ok := envelopeValue(env, h.path)
		if !ok || x == nil {
			continue
		}
		ext, err := t.extensionValue(x)
		if err != nil {
			return false, recordError(Unwrap.Name, strings.Join(h.path, "."), err)
		}
		ev.SetExtension(h.name, ext)
	}
	row, deleted := after, op == "d"
	if deleted {
		switch t.mode {
		case "drop":
			return false, nil
		case "none":
			ev.Data = []byte("null")
			return true, nil
		}
		row = before
	}
	if isNull(row) {
		// A row state the source did not record (a delete without
		// before image, a truncate): nothing to add fields to.
		ev.Data = []byte("null")
		return true, nil
	}
	if raw, ok := rawOf(row); ok && len(t.fields) == 0 && t.mode != "rewrite" {
		// Nothing to add: the row's JSON is the data as it is, a slice
		// of the record's own data, capped so that appending to it
		// copies instead of writing over whatever follows in the
		// source's buffer.
		ev.Data = raw[:len(raw):len(raw)]
		return true, nil
	}
	if len(t.fields) > 0 || t.mode == "rewrite" {
		obj, err := asObject(row)
		if err != nil {
			return false, recordError(Unwrap.Name, "after", err)
		}
		for _, f := range t.fields {
			x, _ := envelopeValue(env, f.path)
			obj.set(f.name, x)
		}
		if t.mode == "rewrite" {
			obj.set(t.deleted, fmt.Sprint(deleted))
		}
		row = obj
	}
	if err := t.setData(ev, row); err != nil {
		return false, recordError(Unwrap.Name, "", err)
	}
	return true, nil
}
