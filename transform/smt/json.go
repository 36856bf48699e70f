package smt

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/internal/rawjson"
)

// Data model. decode validates the event's data once and decodes it
// lazily: an object becomes an *object and an array an []any whose values
// are still raw JSON (*json.RawMessage, pointers into one array per
// container, so storing them costs no allocation each; see rawOf):
// verbatim slices of the data that expand decodes one more level when an
// SMT needs to look inside. An SMT that
// touches a few fields therefore decodes only the path to them, and the
// rest is copied through byte for byte. Decoded scalars are string, bool,
// nil and json.Number (a number's exact text, so big integers and long
// decimals never pass through float64). Objects keep their keys' order.

// object is a JSON object that keeps its keys in order. Lookups scan:
// records rarely have more than a few dozen fields at one level.
type object struct {
	keys []string
	vals []any
}

func (o *object) len() int { return len(o.keys) }

func (o *object) index(k string) int {
	for i, x := range o.keys {
		if x == k {
			return i
		}
	}
	return -1
}

func (o *object) get(k string) (any, bool) {
	if i := o.index(k); i >= 0 {
		return o.vals[i], true
	}
	return nil, false
}

// set replaces k's value in place or appends k.
func (o *object) set(k string, v any) {
	if i := o.index(k); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

func newObject(n int) *object {
	return &object{keys: make([]string, 0, n), vals: make([]any, 0, n)}
}

// decode validates ev's data and decodes its top level (see the data
// model above). Null and absent data (a tombstone) decode to nil. It fails
// with ErrNotJSON when the content type is not JSON or the bytes are not
// one JSON value.
func decode(ev *api.Event) (any, error) {
	if !api.IsJSONContentType(ev.DataContentType) {
		return nil, fmt.Errorf("%w: datacontenttype is %q", ErrNotJSON, ev.DataContentType)
	}
	data := rawjson.Trim(ev.Data)
	if len(data) == 0 {
		return nil, nil
	}
	if !api.ValidJSON(data) {
		// Only the error path pays for the decoder's message.
		var v any
		err := json.Unmarshal(data, &v)
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	return expand(json.RawMessage(data)), nil
}

// rawOf returns v's JSON text when v is raw JSON that expand has not
// decoded yet: a *json.RawMessage (as expand stores members and elements)
// or a json.RawMessage.
func rawOf(v any) (json.RawMessage, bool) {
	switch x := v.(type) {
	case *json.RawMessage:
		return *x, true
	case json.RawMessage:
		return x, true
	}
	return nil, false
}

// member locates one object member in raw JSON: the key's literal
// (quotes included) and the value; plain marks a key whose contents are
// its text (plainKey).
type member struct {
	klo, khi, vlo, vhi int
	plain              bool
}

// expand decodes v one level when it is raw JSON, which must be valid
// (decode checked the whole data); other values are returned as they are.
// An object costs a fixed handful of allocations however many members it
// has: the members are located first, then the keys' text, the values'
// raw slices and the slices holding them are allocated once each.
func expand(v any) any {
	raw, ok := rawOf(v)
	if !ok {
		return v
	}
	switch raw[0] {
	case '{':
		var buf [16]member
		ms := buf[:0]
		plainLen := 0
		i := rawjson.WS(raw, 1)
		for raw[i] != '}' {
			m := member{klo: i, khi: skip(raw, i)}
			i = rawjson.WS(raw, m.khi)
			m.vlo = rawjson.WS(raw, i+1) // after ':'
			m.vhi = skip(raw, m.vlo)
			if m.plain = plainKey(raw[m.klo+1 : m.khi-1]); m.plain {
				plainLen += m.khi - m.klo - 2
			}
			ms = append(ms, m)
			i = rawjson.WS(raw, m.vhi)
			if raw[i] == ',' {
				i = rawjson.WS(raw, i+1)
			}
		}
		var text strings.Builder
		text.Grow(plainLen)
		for _, m := range ms {
			if m.plain {
				text.Write(raw[m.klo+1 : m.khi-1])
			}
		}
		all := text.String()
		// Room for a few more fields: SMTs that insert them would
		// otherwise copy both slices on the first insert.
		o := &object{keys: make([]string, len(ms), len(ms)+4), vals: make([]any, len(ms), len(ms)+4)}
		raws := make([]json.RawMessage, len(ms))
		off := 0
		for j, m := range ms {
			if m.plain {
				n := m.khi - m.klo - 2
				o.keys[j] = all[off : off+n]
				off += n
			} else {
				o.keys[j] = unquote(raw[m.klo:m.khi])
			}
			raws[j] = raw[m.vlo:m.vhi]
			o.vals[j] = &raws[j]
		}
		dedupe(o)
		return o
	case '[':
		var buf [16][2]int
		es := buf[:0]
		i := rawjson.WS(raw, 1)
		for raw[i] != ']' {
			end := skip(raw, i)
			es = append(es, [2]int{i, end})
			i = rawjson.WS(raw, end)
			if raw[i] == ',' {
				i = rawjson.WS(raw, i+1)
			}
		}
		a := make([]any, len(es))
		raws := make([]json.RawMessage, len(es))
		for j, e := range es {
			raws[j] = raw[e[0]:e[1]]
			a[j] = &raws[j]
		}
		return a
	case '"':
		return unquote(raw)
	case 't':
		return true
	case 'f':
		return false
	case 'n':
		return nil
	default:
		return json.Number(raw)
	}
}

// dedupe keeps the last value of a repeated key, at the key's first
// position, as encoding/json keeps the last.
func dedupe(o *object) {
	n := len(o.keys)
	if n < 2 {
		return
	}
	var seen map[string]int
	if n > 16 {
		seen = make(map[string]int, n)
	}
	w := 0
	for r := 0; r < n; r++ {
		k := o.keys[r]
		first := -1
		if seen != nil {
			if i, ok := seen[k]; ok {
				first = i
			} else {
				seen[k] = w
			}
		} else {
			for i := 0; i < w; i++ {
				if o.keys[i] == k {
					first = i
					break
				}
			}
		}
		if first >= 0 {
			o.vals[first] = o.vals[r]
			continue
		}
		o.keys[w], o.vals[w] = k, o.vals[r]
		w++
	}
	o.keys, o.vals = o.keys[:w], o.vals[:w]
}

// skip returns the index after the value at b[i], in JSON that decode
// has validated.
func skip(b []byte, i int) int {
	end, ok := rawjson.Skip(b, i)
	if !ok {
		panic("smt: validated JSON does not scan")
	}
	return end
}

// plainKey reports whether a string literal's contents are its text: no
// escapes and only ASCII.
func plainKey(inner []byte) bool {
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// unquote decodes a valid JSON string literal.
func unquote(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if plainKey(inner) {
		return string(inner)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		panic(fmt.Sprintf("smt: validated JSON string does not decode: %v", err))
	}
	return s
}

// objectOf returns v as an object, expanding raw JSON that holds one.
func objectOf(v any) (*object, bool) {
	if raw, ok := rawOf(v); ok && raw[0] == '{' {
		v = expand(raw)
	}
	o, ok := v.(*object)
	return o, ok
}

// decodeObject decodes data that must be a JSON object; null data returns
// a nil object and no error, so callers pass tombstones through.
func decodeObject(ev *api.Event) (*object, error) {
	v, err := decode(ev)
	if err != nil || v == nil {
		return nil, err
	}
	return asObject(v)
}

// asObject returns v as an object or ErrNotObject.
func asObject(v any) (*object, error) {
	o, ok := objectOf(v)
	if !ok {
		return nil, fmt.Errorf("%w (got %s)", ErrNotObject, kindOf(v))
	}
	return o, nil
}

// isNull reports whether v, decoded or raw, is JSON null.
func isNull(v any) bool {
	raw, ok := rawOf(v)
	return v == nil || (ok && string(raw) == "null")
}

// kindOf names v's JSON type for messages.
func kindOf(v any) string {
	switch x := v.(type) {
	case *json.RawMessage, json.RawMessage:
		return kindOf(expand(x))
	case nil:
		return "null"
	case *object:
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
// field's index there, or ok=false when any step is missing or not an
// object. Objects on the way and the field's value are expanded in place,
// so parent.vals[i] is never raw JSON at its top level.
func lookup(obj *object, path string) (parent *object, i int, ok bool) {
	if i := obj.index(path); i >= 0 {
		obj.vals[i] = expand(obj.vals[i])
		return obj, i, true
	}
	for d := 0; d < len(path); d++ {
		if path[d] != '.' {
			continue
		}
		j := obj.index(path[:d])
		if j < 0 {
			continue
		}
		if child, isObj := objectOf(obj.vals[j]); isObj {
			obj.vals[j] = child
			if p, i, ok := lookup(child, path[d+1:]); ok {
				return p, i, true
			}
		}
	}
	return nil, 0, false
}

// get returns the (expanded) value at path in v, which must be an object.
func get(v any, path string) (any, bool) {
	obj, ok := v.(*object)
	if !ok {
		return nil, false
	}
	p, i, ok := lookup(obj, path)
	if !ok {
		return nil, false
	}
	return p.vals[i], true
}

// codec encodes transformed data into a buffer it reuses, so a codec
// belongs to one transform instance, which the engine calls from one
// goroutine at a time.
type codec struct {
	buf []byte
}

func newCodec() *codec { return &codec{} }

// marshal encodes v and returns a view of the codec's buffer, valid until
// the next call.
func (c *codec) marshal(v any) ([]byte, error) {
	var err error
	c.buf, err = appendValue(c.buf[:0], v)
	return c.buf, err
}

// setData encodes v as ev's new data. The record owns the result, so it
// is encoded into a buffer of its own, sized from the old data (SMTs
// mostly change a few fields) so that it is allocated once and not
// copied.
func (c *codec) setData(ev *api.Event, v any) error {
	b, err := appendValue(make([]byte, 0, len(ev.Data)+128), v)
	if err != nil {
		return err
	}
	if cap(b) > 4096 && len(b) < cap(b)/2 {
		// Much smaller than the old data (extract-field, unwrap of a
		// small row): a right-sized copy, so records in flight do not
		// pin the difference.
		b = append([]byte(nil), b...)
	}
	ev.Data = b
	return nil
}

// appendValue appends v's JSON encoding: objects in their key order, raw
// JSON verbatim, strings escaped as encoding/json does minus its HTML
// escaping (data is not HTML).
func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case *json.RawMessage:
		return append(b, *x...), nil
	case json.RawMessage:
		return append(b, x...), nil
	case string:
		return appendString(b, x), nil
	case json.Number:
		return append(b, x...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case *object:
		b = append(b, '{')
		for i, k := range x.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendValue(b, x.vals[i]); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	default:
		return b, fmt.Errorf("%w: unsupported value %T", ErrConvert, v)
	}
}

// appendString appends s as a JSON string, escaped exactly as api encodes
// event attributes.
func appendString(b []byte, s string) []byte { return api.AppendJSONString(b, s) }

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
	switch x := expand(v).(type) {
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
