package smt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ferryhq/ferry/api"
)

// codec encodes transformed data, reusing its buffer, so a codec belongs
// to one transform instance, which the engine calls from one goroutine at
// a time.
type codec struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func newCodec() *codec {
	c := &codec{}
	c.enc = json.NewEncoder(&c.buf)
	// Data is not HTML; escaping <, > and & would only change the bytes.
	c.enc.SetEscapeHTML(false)
	return c
}

// decode validates ev's data and decodes its top level. Decoding is lazy:
// an object becomes a map[string]any and an array an []any whose values
// are still json.RawMessage, verbatim JSON that expand decodes one more
// level when an SMT needs to look inside. So an SMT that touches a few
// fields decodes only the path to them, and everything else is copied
// through unchanged, numbers included (scalars that are decoded become
// string, bool, nil or json.Number, which keeps a number's exact text).
// Null and absent data (a tombstone) decode to nil. It fails with
// ErrNotJSON when the content type is not JSON or the bytes are not one
// JSON value.
func decode(ev *api.Event) (any, error) {
	if !api.IsJSONContentType(ev.DataContentType) {
		return nil, fmt.Errorf("%w: datacontenttype is %q", ErrNotJSON, ev.DataContentType)
	}
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 {
		return nil, nil
	}
	// expand's json.Unmarshal checks the whole value, nested raw parts
	// and trailing bytes included, before decoding anything.
	v, err := expand(json.RawMessage(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	return v, nil
}

// expand decodes v one level when it is still raw JSON; other values are
// returned as they are.
func expand(v any) (any, error) {
	raw, ok := v.(json.RawMessage)
	if !ok {
		return v, nil
	}
	if len(raw) == 0 {
		return nil, errors.New("empty JSON value")
	}
	switch raw[0] {
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[k] = x
		}
		return out, nil
	case '[':
		var a []json.RawMessage
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		out := make([]any, len(a))
		for i, x := range a {
			out[i] = x
		}
		return out, nil
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 't', 'f', 'n':
		var x any
		err := json.Unmarshal(raw, &x)
		return x, err
	default:
		var n json.Number
		err := json.Unmarshal(raw, &n)
		return n, err
	}
}

// mustExpand is expand for values inside data decode already validated,
// where a failure is impossible.
func mustExpand(v any) any {
	x, err := expand(v)
	if err != nil {
		panic(fmt.Sprintf("smt: raw JSON that decode validated does not decode: %v", err))
	}
	return x
}

// objectOf returns v as an object, expanding raw JSON that holds one.
func objectOf(v any) (map[string]any, bool) {
	if raw, ok := v.(json.RawMessage); ok && len(raw) > 0 && raw[0] == '{' {
		v = mustExpand(raw)
	}
	m, ok := v.(map[string]any)
	return m, ok
}

// decodeObject decodes data that must be a JSON object; null data returns
// a nil map and no error, so callers pass tombstones through.
func decodeObject(ev *api.Event) (map[string]any, error) {
	v, err := decode(ev)
	if err != nil || v == nil {
		return nil, err
	}
	return object(v)
}

// marshal encodes v into the codec's buffer and returns a view of it,
// valid until the next call.
func (c *codec) marshal(v any) ([]byte, error) {
	c.buf.Reset()
	if err := c.enc.Encode(v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConvert, err)
	}
	return bytes.TrimSuffix(c.buf.Bytes(), []byte{'\n'}), nil
}

// setData encodes v as ev's new data. The record owns the result, so it
// gets its own copy of the buffer.
func (c *codec) setData(ev *api.Event, v any) error {
	b, err := c.marshal(v)
	if err != nil {
		return err
	}
	ev.Data = bytes.Clone(b)
	return nil
}

// object returns v as a JSON object or ErrNotObject.
func object(v any) (map[string]any, error) {
	m, ok := objectOf(v)
	if !ok {
		return nil, fmt.Errorf("%w (got %s)", ErrNotObject, kindOf(v))
	}
	return m, nil
}

// kindOf names v's JSON type for messages.
func kindOf(v any) string {
	switch x := v.(type) {
	case json.RawMessage:
		return kindOf(mustExpand(x))
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// lookup finds a field by path in obj. A path names nested object fields
// with dots ("buyer.address.city"); a key that itself contains the dots
// (as flatten produces) is matched whole first, so "a.b" finds {"a.b": 1}
// before {"a": {"b": 1}}. It returns the object holding the field and the
// field's key there, or ok=false when any step is missing or not an
// object. Objects on the way and the field's value are expanded in place,
// so parent[key] is never raw JSON at its top level.
func lookup(obj map[string]any, path string) (parent map[string]any, key string, ok bool) {
	if v, ok := obj[path]; ok {
		obj[path] = mustExpand(v)
		return obj, path, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if child, isObj := objectOf(obj[path[:i]]); isObj {
			obj[path[:i]] = child
			if p, k, ok := lookup(child, path[i+1:]); ok {
				return p, k, true
			}
		}
	}
	return nil, "", false
}

// get returns the (expanded) value at path in v, which must be an object.
func get(v any, path string) (any, bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	p, k, ok := lookup(obj, path)
	if !ok {
		return nil, false
	}
	return p[k], true
}

// validExtensionName applies the CloudEvents naming rule for extension
// attributes: lower-case ASCII letters and digits.
func validExtensionName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// contextAttributes are the CloudEvents attributes an extension must not
// shadow.
var contextAttributes = []string{"id", "source", "specversion", "type", "subject", "time",
	"datacontenttype", "dataschema", "data", "data_base64"}

func checkExtensionName(s string) error {
	if !validExtensionName(s) {
		return fmt.Errorf("must be a CloudEvents extension name (lower-case letters and digits), got %q", s)
	}
	for _, a := range contextAttributes {
		if s == a {
			return fmt.Errorf("%q is a CloudEvents context attribute, not an extension", s)
		}
	}
	return nil
}

// checkExtensionList validates a comma-separated list of extension names.
func checkExtensionList(v string) error {
	for _, n := range splitList(v) {
		if err := checkExtensionName(n); err != nil {
			return err
		}
	}
	return nil
}

// splitList splits a comma-separated setting as api.Config.List does.
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// extensionValue converts a JSON value to an extension attribute value:
// strings, booleans and integers that fit int64 keep their type, other
// numbers become float64 when that is exact and their text otherwise (so a
// big integer is never rounded), objects and arrays their JSON text.
func (c *codec) extensionValue(v any) (any, error) {
	switch x := mustExpand(v).(type) {
	case string, bool:
		return x, nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		if f, err := x.Float64(); err == nil && json.Number(formatFloat(f, 64)) == x {
			return f, nil
		}
		return x.String(), nil
	default:
		b, err := c.marshal(x)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	}
}
