package smt

import (
	"fmt"
	"strings"

	"github.com/ferryhq/ferry/api"
)

// ReplaceField keeps, drops and renames top-level fields of the data
// object (Kafka's ReplaceField$Value).
var ReplaceField = api.TransformPlugin{
	Name:    "replace-field",
	Summary: "Keep (include), drop (exclude) and rename top-level fields of the data object (Kafka ReplaceField).",
	Spec: api.Spec{
		{Name: "include", Type: api.TypeList, Description: "Fields to keep; when set, every other field is dropped (Kafka include, formerly whitelist)."},
		{Name: "exclude", Type: api.TypeList, Description: "Fields to drop; wins over include (Kafka exclude, formerly blacklist)."},
		{Name: "renames", Type: api.TypeList, Check: checkRenames,
			Description: "Renames as old:new pairs, e.g. a:b,c:d. Include and exclude name the old fields; a renamed field overwrites a kept field of the same name."},
	},
	New: newReplaceField,
}

func checkRenames(v string) error {
	_, err := parseRenames(v)
	return err
}

func parseRenames(v string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range splitList(v) {
		from, to, ok := strings.Cut(pair, ":")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("must be old:new pairs, got %q", pair)
		}
		if _, dup := out[from]; dup {
			return nil, fmt.Errorf("renames %q twice", from)
		}
		out[from] = to
	}
	return out, nil
}

type replaceField struct {
	*codec
	include, exclude map[string]bool
	renames          map[string]string
}

func newReplaceField(c api.Config) (api.Transform, error) {
	renames, err := parseRenames(c.String("renames"))
	if err != nil {
		return nil, configError("renames", err.Error())
	}
	t := &replaceField{codec: newCodec(), include: set(c.List("include")), exclude: set(c.List("exclude")), renames: renames}
	if len(t.include)+len(t.exclude)+len(t.renames) == 0 {
		return nil, configError("include", "set at least one of include, exclude and renames")
	}
	return t, nil
}

func set(items []string) map[string]bool {
	if len(items) == 0 {
		return nil
	}
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}

// Apply rewrites the data object. Null data passes through.
func (t *replaceField) Apply(r *api.Record) (bool, error) {
	obj, err := decodeObject(&r.Event)
	if err != nil || obj == nil {
		return err == nil, recordError(ReplaceField.Name, "", err)
	}
	out := newObject(obj.len())
	for i, k := range obj.keys {
		if !t.keep(k) {
			continue
		}
		if to, renamed := t.renames[k]; renamed {
			// A renamed field keeps its position, as in Kafka, and
			// overwrites a kept field of the same name.
			out.set(to, obj.vals[i])
		} else if !t.shadowed(obj, k) {
			out.set(k, obj.vals[i])
		}
	}
	if err := t.setData(&r.Event, out); err != nil {
		return false, recordError(ReplaceField.Name, "", err)
	}
	return true, nil
}

// shadowed reports whether a kept field of obj is renamed to k, which then
// replaces k's own value.
func (t *replaceField) shadowed(obj *object, k string) bool {
	for from, to := range t.renames {
		if to == k && t.keep(from) && obj.index(from) >= 0 {
			return true
		}
	}
	return false
}

func (t *replaceField) keep(k string) bool {
	return !t.exclude[k] && (t.include == nil || t.include[k])
}
