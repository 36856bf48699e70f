package api

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// IsJSONContentType reports whether data of content type ct is carried as
// inline JSON in structured mode. An empty type counts as JSON.
func IsJSONContentType(ct string) bool {
	if ct == "" || ct == "application/json" {
		return true // the common cases, without lower-casing
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(strings.ToLower(ct))
	return ct == "application/json" || ct == "text/json" || strings.HasSuffix(ct, "+json")
}

// MarshalJSON encodes e in the CloudEvents JSON format (structured mode).
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 256+len(e.Data)))
}

// AppendJSON appends e's structured-mode JSON encoding to buf. It is the
// allocation-free form of MarshalJSON for hot paths.
func (e *Event) AppendJSON(buf []byte) ([]byte, error) {
	spec := e.SpecVersion
	if spec == "" {
		spec = SpecVersion
	}
	buf = append(buf, `{"specversion":`...)
	buf = AppendJSONString(buf, spec)
	buf = append(buf, `,"id":`...)
	buf = AppendJSONString(buf, e.ID)
	buf = append(buf, `,"source":`...)
	buf = AppendJSONString(buf, e.Source)
	buf = append(buf, `,"type":`...)
	buf = AppendJSONString(buf, e.Type)
	if e.Subject != "" {
		buf = append(buf, `,"subject":`...)
		buf = AppendJSONString(buf, e.Subject)
	}
	if !e.Time.IsZero() {
		buf = append(buf, `,"time":"`...)
		buf = e.Time.UTC().AppendFormat(buf, time.RFC3339Nano)
		buf = append(buf, '"')
	}
	if e.DataContentType != "" {
		buf = append(buf, `,"datacontenttype":`...)
		buf = AppendJSONString(buf, e.DataContentType)
	}
	if e.DataSchema != "" {
		buf = append(buf, `,"dataschema":`...)
		buf = AppendJSONString(buf, e.DataSchema)
	}
	var exts [4]Extension
	for _, x := range e.SortedExtensions(exts[:0]) {
		k, v := x.Name, x.Value
		if !ValidAttributeName(k) {
			return nil, fmt.Errorf("cloudevent: invalid extension attribute name %q", k)
		}
		buf = append(buf, ',', '"')
		buf = append(buf, k...)
		buf = append(buf, '"', ':')
		var err error
		if buf, err = appendExtension(buf, v); err != nil {
			return nil, fmt.Errorf("cloudevent: extension %q: %w", k, err)
		}
	}
	if e.Data != nil {
		switch {
		case IsJSONContentType(e.DataContentType):
			if !e.DataMarkedJSON() && !ValidJSON(e.Data) {
				return nil, fmt.Errorf("cloudevent %q: data is not valid JSON for content type %q", e.ID, e.DataContentType)
			}
			buf = append(buf, `,"data":`...)
			buf = append(buf, e.Data...)
		case strings.HasPrefix(e.DataContentType, "text/") && utf8.Valid(e.Data):
			buf = append(buf, `,"data":`...)
			buf = AppendJSONString(buf, string(e.Data))
		default:
			buf = append(buf, `,"data_base64":"`...)
			buf = base64.StdEncoding.AppendEncode(buf, e.Data)
			buf = append(buf, '"')
		}
	}
	return append(buf, '}'), nil
}

func appendExtension(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return AppendJSONString(buf, x), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case float64:
		return strconv.AppendFloat(buf, x, 'g', -1, 64), nil
	case time.Time:
		buf = append(buf, '"')
		buf = x.UTC().AppendFormat(buf, time.RFC3339Nano)
		return append(buf, '"'), nil
	case []byte:
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, x)
		return append(buf, '"'), nil
	default:
		return nil, fmt.Errorf("unsupported value type %T", v)
	}
}

// ValidAttributeName applies the CloudEvents naming rule for attribute
// and extension names: lower-case ASCII letters and digits, at least one.
func ValidAttributeName(s string) bool {
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

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string literal.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = AppendJSONEscaped(dst, s)
	return append(dst, '"')
}

// AppendJSONEscaped appends s as the contents of a JSON string literal,
// without the quotes. Invalid UTF-8 becomes U+FFFD; U+2028 and U+2029 are
// escaped so the output is also safe to embed in JavaScript.
func AppendJSONEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Printable ASCII other than '"' and '\\' needs no escaping.
		if i = escapeFree(s, i); i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf { // a control byte, '"' or '\\'
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

// escapeFree returns the index of the first byte at or after i that may
// need escaping in a JSON string, or len(s). It tests eight bytes at a
// time, in one 64-bit word (stringStops, the validator's test), and also
// stops at a word with a byte of 0x80 or more (part of a multi-byte UTF-8
// sequence, which the caller checks). Short of eight bytes it looks at
// each.
func escapeFree(s string, i int) int {
	const highs = 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8]
		// Indexing a string of known length 8 lets the compiler load
		// the word at once.
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		if (x|stringStops(x))&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return i
		}
	}
	return i
}
