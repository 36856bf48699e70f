package sls

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/connectors/kit/alicloud"
	"github.com/ferryhq/ferry/transform/template"
)

// What contents=… makes of an event.
const (
	contentsEvent = "event" // every attribute, and the data flattened under "data."
	contentsData  = "data"  // the data flattened, top-level members as keys
	contentsMap   = "map"   // contents.<key>=<parameter>: EventBridge's ContentSchema
)

// Bounds on one log's keys.
const (
	maxKeys      = 1024 // keys one event may flatten into
	maxDepth     = 8    // nesting flattened into dotted keys; deeper objects stay JSON text
	maxMapKeys   = 128  // contents.<key> entries
	maxKeyLength = 128
)

// contentKey is the rule for a contents.<key> name: SLS's field-name
// characters, no dot (the config key's separator), not a reserved __x__.
var contentKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// pair is one log key and value.
type pair struct{ key, value string }

// contents makes the key/value pairs of a log from an event.
type contents struct {
	mode   string
	keys   []string          // contents=map: sorted
	params []*template.Param // contents=map: by keys
	flat   flattener
}

// mapKeys returns the <key>s that contents.<key>… settings name, sorted.
func mapKeys(c api.Config) []string {
	seen := map[string]bool{}
	for k := range c.Prefix("contents.") {
		name := k
		for _, s := range []string{".form", ".value", ".template"} {
			name = strings.TrimSuffix(name, s)
		}
		seen[name] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// compileContents reads contents and contents.<key>…; the error names the
// fields at fault.
func compileContents(c api.Config) (*contents, []api.FieldError) {
	out := &contents{mode: c.String("contents")}
	keys := mapKeys(c)
	var errs []api.FieldError
	switch {
	case out.mode != contentsMap && len(keys) > 0:
		return nil, []api.FieldError{{Field: "contents." + keys[0], Message: "needs contents=map"}}
	case out.mode == contentsMap && len(keys) == 0:
		return nil, []api.FieldError{{Field: "contents", Message: "map needs at least one contents.<key> (a constant, or contents.<key>.form with .value/.template)"}}
	case len(keys) > maxMapKeys:
		return nil, []api.FieldError{{Field: "contents", Message: fmt.Sprintf("maps %d keys, at most %d", len(keys), maxMapKeys)}}
	}
	for _, k := range keys {
		field := "contents." + k
		if len(k) > maxKeyLength || !contentKey.MatchString(k) || strings.HasPrefix(k, "__") {
			errs = append(errs, api.FieldError{Field: field, Message: fmt.Sprintf("log key %q must be 1 to %d letters, digits, '_' or '-', start with a letter or '_', and not start with __ (SLS's reserved fields)", alicloud.Truncate(k), maxKeyLength)})
			continue
		}
		p, err := template.ParamSpec{Name: field}.Compile(c)
		if err != nil {
			errs = append(errs, fieldErrors(err, field)...)
			continue
		}
		out.keys = append(out.keys, k)
		out.params = append(out.params, p)
	}
	return out, errs
}

// fieldErrors returns the fields of a validation error, or err on field.
func fieldErrors(err error, field string) []api.FieldError {
	if ve, ok := err.(*api.ValidationError); ok {
		return ve.Fields
	}
	return []api.FieldError{{Field: field, Message: err.Error()}}
}

// pairs appends the key/value pairs of ev to dst.
func (c *contents) pairs(ev *api.Event, dst []pair, buf []byte) ([]pair, []byte, error) {
	c.flat.base = len(dst)
	var err error
	switch c.mode {
	case contentsMap:
		for i, k := range c.keys {
			if buf, err = c.params[i].Render(ev, buf[:0]); err != nil {
				return dst, buf, err
			}
			dst = append(dst, pair{k, string(buf)})
		}
		return dst, buf, nil
	case contentsData:
		dst, err = c.flattenData(dst, ev, "")
		return dst, buf, err
	}
	add := func(k, v string) {
		if v != "" {
			dst = append(dst, pair{k, v})
		}
	}
	add("id", ev.ID)
	add("source", ev.Source)
	spec, _ := ev.Attribute("specversion")
	add("specversion", spec)
	add("type", ev.Type)
	add("subject", ev.Subject)
	if !ev.Time.IsZero() {
		add("time", ev.Time.UTC().Format(time.RFC3339Nano))
	}
	add("datacontenttype", ev.DataContentType)
	add("dataschema", ev.DataSchema)
	if len(ev.Extensions) > 0 {
		var exts [4]api.Extension
		for _, x := range ev.SortedExtensions(exts[:0]) {
			k := x.Name
			v, err := kit.ExtensionText(x.Value)
			if err != nil {
				return dst, buf, fmt.Errorf("extension %q: %w", k, err)
			}
			add(k, v)
		}
	}
	dst, err = c.flattenData(dst, ev, "data.")
	return dst, buf, err
}

// flattenData appends ev's data: a JSON object's members as prefix+name
// (nested objects as dotted keys), any other JSON value as "data", text as
// "data", other bytes as "data_base64".
func (c *contents) flattenData(dst []pair, ev *api.Event, prefix string) ([]pair, error) {
	if len(ev.Data) == 0 {
		return dst, nil
	}
	ct := ev.DataContentType
	switch {
	case ct == "" || api.IsJSONContentType(ct):
		return c.flat.flatten(dst, ev.Data, strings.TrimSuffix(prefix, "."))
	case strings.HasPrefix(ct, "text/"):
		return append(dst, pair{"data", string(ev.Data)}), nil
	}
	return append(dst, pair{"data_base64", base64.StdEncoding.EncodeToString(ev.Data)}), nil
}

// flattenMap appends obj's members under prefix, sorted by name.
func flattenMap(dst []pair, obj map[string]any, prefix string, depth, base int) ([]pair, error) {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := obj[k].(map[string]any); ok && depth+1 < maxDepth && len(sub) > 0 {
			var err error
			if dst, err = flattenMap(dst, sub, key, depth+1, base); err != nil {
				return dst, err
			}
			continue
		}
		if len(dst)-base >= maxKeys {
			return dst, fmt.Errorf("%w: the event flattens into more than %d keys", errTooManyKeys, maxKeys)
		}
		dst = append(dst, pair{key, text(obj[k])})
	}
	return dst, nil
}

// text is a JSON value as a log value: strings without quotes, numbers as
// written, true/false, null as empty, objects and arrays as JSON text.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode(v) // decoded from JSON, so it encodes
	return strings.TrimSuffix(b.String(), "\n")
}
