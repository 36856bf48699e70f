package sls

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// flattener turns a JSON object into log pairs without decoding it into
// maps: it walks the (validated) text, sorts each object's members by name
// and takes scalar values as substrings of one copy of the data, so a log
// costs a few allocations rather than a few per key. Values it does not
// take as they are written (escaped strings, arrays, objects kept as
// text) go through encoding/json, so the pairs are exactly those of
// decoding the data with UseNumber and flattening the maps. Not safe for
// concurrent use: a sink's Write encodes one record after another.
type flattener struct {
	base  int               // where the record's pairs begin in dst
	stack []member          // the members of the objects being walked
	keys  map[string]string // joined keys seen, so that prefix.name is built once
	buf   []byte
}

// member is one member of an object: its name (quoted, then decoded),
// its value's text, and its place among the object's members (the last of
// equal names wins).
type member struct {
	name, raw string
	at        int
}

// maxKeyCache bounds the joined keys kept: events with a steady shape need
// a few dozen.
const maxKeyCache = 4096

// flatten appends data's pairs: a JSON object's members under prefix
// (nested objects as dotted keys), any other JSON value as "data". The
// record's pairs begin at f.base in dst.
func (f *flattener) flatten(dst []pair, data []byte, prefix string) ([]pair, error) {
	if !json.Valid(data) || !utf8.Valid(data) {
		// encoding/json reads the first value of data and replaces bytes
		// that are not UTF-8 in strings; its answer stands.
		return flattenDecoded(dst, data, prefix, f.base)
	}
	s := string(bytes.TrimSpace(data))
	if s[0] != '{' {
		v, err := f.text(s)
		return append(dst, pair{"data", v}), err
	}
	return f.object(dst, s, prefix, 0)
}

// object appends the members of the object s under prefix, sorted by name.
func (f *flattener) object(dst []pair, s, prefix string, depth int) ([]pair, error) {
	start := len(f.stack)
	f.stack = members(f.stack, s)
	defer func() { f.stack = f.stack[:start] }()
	level := f.stack[start:]
	for i := range level {
		name, err := f.unquote(level[i].name)
		if err != nil {
			return dst, err
		}
		level[i].name = name
	}
	slices.SortFunc(level, func(a, b member) int {
		return cmp.Or(strings.Compare(a.name, b.name), cmp.Compare(a.at, b.at))
	})
	n := len(level)
	for i := 0; i < n; i++ {
		m := f.stack[start+i]
		if i+1 < n && f.stack[start+i+1].name == m.name {
			continue // a later member of the same name replaces it
		}
		key := f.join(prefix, m.name)
		if m.raw[0] == '{' && depth+1 < maxDepth && !emptyObject(m.raw) {
			var err error
			if dst, err = f.object(dst, m.raw, key, depth+1); err != nil {
				return dst, err
			}
			continue
		}
		if len(dst)-f.base >= maxKeys {
			return dst, fmt.Errorf("%w: the event flattens into more than %d keys", errTooManyKeys, maxKeys)
		}
		v, err := f.text(m.raw)
		if err != nil {
			return dst, err
		}
		dst = append(dst, pair{key, v})
	}
	return dst, nil
}

// text is a JSON value as a log value (see text): scalars as written,
// strings without quotes; the rest through encoding/json.
func (f *flattener) text(raw string) (string, error) {
	switch raw[0] {
	case '"':
		return f.unquote(raw)
	case 'n':
		return "", nil
	case '{', '[':
		d := json.NewDecoder(strings.NewReader(raw))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return "", err
		}
		return text(v), nil
	}
	return raw, nil // a number as written, true or false
}

// unquote is a JSON string's value: a substring when it has no escapes.
func (f *flattener) unquote(raw string) (string, error) {
	body := raw[1 : len(raw)-1]
	if strings.IndexByte(body, '\\') < 0 {
		return body, nil
	}
	var v string
	err := json.Unmarshal([]byte(raw), &v)
	return v, err
}

// join is prefix.name, built once for each pair seen (up to maxKeyCache).
func (f *flattener) join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	f.buf = append(append(append(f.buf[:0], prefix...), '.'), name...)
	if k, ok := f.keys[string(f.buf)]; ok {
		return k
	}
	k := string(f.buf)
	if f.keys == nil {
		f.keys = make(map[string]string)
	}
	if len(f.keys) < maxKeyCache {
		f.keys[k] = k
	}
	return k
}

// members appends the members of the valid JSON object s.
func members(dst []member, s string) []member {
	i := skipSpace(s, 1)
	for at := 0; s[i] != '}'; at++ {
		end := valueEnd(s, i)
		name := s[i:end]
		i = skipSpace(s, end)
		i = skipSpace(s, i+1) // ':'
		end = valueEnd(s, i)
		dst = append(dst, member{name: name, raw: s[i:end], at: at})
		i = skipSpace(s, end)
		if s[i] == ',' {
			i = skipSpace(s, i+1)
		}
	}
	return dst
}

func emptyObject(raw string) bool { return raw[skipSpace(raw, 1)] == '}' }

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// valueEnd is the end of the valid JSON value starting at s[i].
func valueEnd(s string, i int) int {
	switch s[i] {
	case '"':
		for j := i + 1; ; j++ {
			switch s[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch s[j] {
			case '"':
				j = valueEnd(s, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
	}
	j := i
	for j < len(s) && !strings.ContainsRune(",}] \t\r\n", rune(s[j])) {
		j++
	}
	return j
}

// flattenDecoded is flatten by way of encoding/json's maps, for data that
// is not UTF-8 (whose strings encoding/json repairs).
func flattenDecoded(dst []pair, data []byte, prefix string, base int) ([]pair, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return dst, fmt.Errorf("data is not valid JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return append(dst, pair{"data", text(v)}), nil
	}
	return flattenMap(dst, obj, prefix, 0, base)
}
