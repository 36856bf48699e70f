package api

import (
	"encoding/base64"
	"fmt"
	"strconv"
)

// The context attributes the decoder knows, as indexes into its table.
const (
	attrSpecVersion = iota
	attrID
	attrSource
	attrType
	attrSubject
	attrDataContentType
	attrDataSchema
	attrTime
	numAttrs
)

// attrNames are the attributes' JSON member names, by index.
var attrNames = [numAttrs]string{"specversion", "id", "source", "type", "subject", "datacontenttype", "dataschema", "time"}

// textSpan locates a decoded string in the decoder's text buffer.
type textSpan struct{ off, end int }

// attrValue is the last value seen for one attribute.
type attrValue struct {
	state byte // 0 absent, 's' string, 'n' null, 'x' not a string
	text  textSpan
}

// extValue is one extension member: its name and its last value.
type extValue struct {
	name  textSpan
	kind  byte // 's' string, 'b' bool, 'i' int64, 'f' float64, 'n' null, 'x' invalid
	text  textSpan
	num   int64
	float float64
}

// UnmarshalJSON decodes a structured-mode CloudEvent (the CloudEvents
// JSON format). It requires id, source, specversion 1.0 and type, as the
// specification does, and an object with no specversion member at all
// fails with ErrNoSpecVersion, so a caller can take it as plain data.
//
// It walks b once: every value is validated as it is passed over, string
// attributes are unescaped into one buffer that becomes one string, and
// data is kept as its raw JSON bytes (copied, as json.Unmarshaler
// requires: b is not retained), so a typical event costs two allocations
// (plus the map and its boxed values when it has extensions). data_base64
// is decoded; a string data member whose datacontenttype is not JSON is
// unescaped to its text. Extension names must be lower-case ASCII letters
// and digits; their values are strings, booleans or numbers (int64 when
// integral, else float64), and a null one is absent. time is parsed by
// ParseTime: RFC 3339 and the forms EventBridge emits.
//
// It accepts exactly what encoding/json accepts as one object (after
// it, only whitespace), decodes what the encoding/json-based reference in
// the tests decodes (a repeated member: the last one counts), and in
// addition rejects an event that AppendJSON could not encode again:
// JSON-typed data from data_base64 that is not JSON.
func (e *Event) UnmarshalJSON(b []byte) error {
	*e = Event{}
	// Attribute text is gathered in a stack buffer and becomes one string.
	var stack [1024]byte
	var extStack [8]extValue
	text, exts := stack[:0], extStack[:0]
	var (
		attrs          [numAttrs]attrValue
		data, data64   []byte // the members' raw values; nil when absent
		hasSpecVersion bool
		hasEmptyName   bool
		badName        string // the first invalid extension name
	)
	i := skipJSONSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		if ValidJSON(b) {
			return fmt.Errorf("cloudevent: not a JSON object")
		}
		return syntaxError(b, i)
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		var keyStack [32]byte
		for {
			if i >= len(b) || b[i] != '"' {
				return syntaxError(b, i)
			}
			end, ok := validString(b, i)
			if !ok {
				return syntaxError(b, end)
			}
			name := b[i+1 : end-1]
			if hasBackslash(name) {
				name = AppendJSONUnescaped(keyStack[:0], name)
			}
			if i = skipJSONSpace(b, end); i >= len(b) || b[i] != ':' {
				return syntaxError(b, i)
			}
			start := skipJSONSpace(b, i+1)
			if end, ok = validValue(b, start, 1); !ok {
				return syntaxError(b, end)
			}
			v := b[start:end]
			switch a := attrIndex(name); {
			case a >= 0:
				if a == attrSpecVersion {
					hasSpecVersion = true
				}
				switch v[0] {
				case '"':
					off := len(text)
					text = AppendJSONUnescaped(text, v[1:len(v)-1])
					attrs[a] = attrValue{state: 's', text: textSpan{off, len(text)}}
				case 'n':
					attrs[a] = attrValue{state: 'n'}
				default:
					attrs[a] = attrValue{state: 'x'}
				}
			case string(name) == "data":
				data = v
			case string(name) == "data_base64":
				data64 = v
			case len(name) == 0:
				hasEmptyName = true
			case !ValidAttributeName(string(name)):
				if badName == "" {
					badName = string(name)
				}
			default:
				var x extValue
				text, x = decodeExtension(text, v)
				exts = setExtension(exts, text, name, x)
				text = exts[len(exts)-1].name.appendTo(text, name)
			}
			if i = skipJSONSpace(b, end); i >= len(b) {
				return syntaxError(b, i)
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return syntaxError(b, i)
			}
			i = skipJSONSpace(b, i+1)
		}
	}
	if i = skipJSONSpace(b, i); i != len(b) {
		return syntaxError(b, i)
	}
	if !hasSpecVersion {
		return ErrNoSpecVersion
	}
	for a, v := range attrs {
		if v.state == 'x' || (a == attrTime && v.state == 'n') {
			if a == attrTime {
				return fmt.Errorf("cloudevent: attribute \"time\" must be a string")
			}
			return fmt.Errorf("cloudevent: attribute %q must be a string", attrNames[a])
		}
	}
	if badName != "" || hasEmptyName {
		return fmt.Errorf("cloudevent: invalid extension attribute name %q", badName)
	}

	all := string(text) // the one allocation for every attribute's text
	str := func(a int) string {
		if attrs[a].state != 's' {
			return ""
		}
		return all[attrs[a].text.off:attrs[a].text.end]
	}
	e.SpecVersion, e.ID, e.Source, e.Type = str(attrSpecVersion), str(attrID), str(attrSource), str(attrType)
	e.Subject, e.DataContentType, e.DataSchema = str(attrSubject), str(attrDataContentType), str(attrDataSchema)
	// A missing required attribute is reported once the rest is decoded,
	// so a lenient caller can go on with the event (MissingAttributeError).
	var missing error
	switch {
	case e.SpecVersion != SpecVersion:
		return fmt.Errorf("cloudevent: specversion must be %q, got %q", SpecVersion, e.SpecVersion)
	case e.ID == "":
		missing = &MissingAttributeError{Name: "id"}
	case e.Source == "":
		missing = &MissingAttributeError{Name: "source"}
	case e.Type == "":
		missing = &MissingAttributeError{Name: "type"}
	}
	if attrs[attrTime].state == 's' {
		t, err := ParseTime(str(attrTime))
		if err != nil {
			return fmt.Errorf("cloudevent: attribute \"time\": %w", err)
		}
		e.Time = t
	}
	switch {
	case data != nil && data64 != nil:
		return fmt.Errorf("cloudevent: both \"data\" and \"data_base64\" are present")
	case data64 != nil:
		d, err := decodeBase64(data64)
		if err != nil {
			return err
		}
		if IsJSONContentType(e.DataContentType) && !ValidJSON(d) {
			return fmt.Errorf("cloudevent %q: data is not valid JSON for content type %q", e.ID, e.DataContentType)
		}
		e.Data = d
	case data != nil:
		if data[0] == '"' && !IsJSONContentType(e.DataContentType) {
			e.Data = AppendJSONUnescaped(make([]byte, 0, len(data)-2), data[1:len(data)-1])
		} else {
			// make and copy, which the compiler fuses into one allocation
			// that is not cleared first.
			d := make([]byte, len(data))
			copy(d, data)
			e.Data = d
		}
	}
	for _, x := range exts {
		if x.kind == 'x' {
			return fmt.Errorf("cloudevent: extension %q must be a string, number or boolean", all[x.name.off:x.name.end])
		}
	}
	for _, x := range exts {
		var v any
		switch x.kind {
		case 's':
			v = all[x.text.off:x.text.end]
		case 'b':
			v = x.num != 0
		case 'i':
			v = x.num
		case 'f':
			v = x.float
		default: // a null extension is the same as an absent one
			continue
		}
		if e.Extensions == nil {
			e.Extensions = make(map[string]any, len(exts))
		}
		e.Extensions[all[x.name.off:x.name.end]] = v
	}
	return missing
}

// attrIndex returns the index of the context attribute called name, or -1.
func attrIndex(name []byte) int {
	switch string(name) {
	case "specversion":
		return attrSpecVersion
	case "id":
		return attrID
	case "source":
		return attrSource
	case "type":
		return attrType
	case "subject":
		return attrSubject
	case "datacontenttype":
		return attrDataContentType
	case "dataschema":
		return attrDataSchema
	case "time":
		return attrTime
	}
	return -1
}

// decodeExtension decodes an extension's value v (valid JSON), appending
// a string's text to text.
func decodeExtension(text, v []byte) ([]byte, extValue) {
	switch v[0] {
	case '"':
		off := len(text)
		text = AppendJSONUnescaped(text, v[1:len(v)-1])
		return text, extValue{kind: 's', text: textSpan{off, len(text)}}
	case 't':
		return text, extValue{kind: 'b', num: 1}
	case 'f':
		return text, extValue{kind: 'b'}
	case 'n':
		return text, extValue{kind: 'n'}
	case '{', '[':
		return text, extValue{kind: 'x'}
	}
	if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return text, extValue{kind: 'i', num: n}
	}
	if f, err := strconv.ParseFloat(string(v), 64); err == nil {
		return text, extValue{kind: 'f', float: f}
	}
	// Out of float64's range: encoding/json's Number cannot convert it
	// either, and the reference decoder drops such an extension.
	return text, extValue{kind: 'n'}
}

// setExtension records x for the extension called name. A repeated name
// replaces the earlier value in place (the last member counts, as with
// encoding/json); a new one is appended with an empty name span, which
// the caller fills.
func setExtension(exts []extValue, text, name []byte, x extValue) []extValue {
	for k := range exts {
		if n := exts[k].name; string(text[n.off:n.end]) == string(name) {
			x.name = n
			exts[k] = x
			// Move it last so the caller's name fill-in is a no-op.
			exts = append(exts[:k], exts[k+1:]...)
			return append(exts, x)
		}
	}
	x.name = textSpan{-1, -1}
	return append(exts, x)
}

// appendTo stores name in text the first time an extension is seen (a
// span of -1), so a name is written once however often it repeats.
func (s *textSpan) appendTo(text, name []byte) []byte {
	if s.off >= 0 {
		return text
	}
	s.off = len(text)
	text = append(text, name...)
	s.end = len(text)
	return text
}

// decodeBase64 decodes a data_base64 member's value (a JSON string or
// null) as encoding/base64's standard encoding does, padding required.
func decodeBase64(v []byte) ([]byte, error) {
	switch v[0] {
	case 'n':
		return []byte{}, nil
	case '"':
	default:
		return nil, fmt.Errorf("cloudevent: \"data_base64\" must be a string")
	}
	s := v[1 : len(v)-1]
	if hasBackslash(s) {
		s = AppendJSONUnescaped(nil, s)
	}
	d := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(d, s)
	if err != nil {
		return nil, fmt.Errorf("cloudevent: \"data_base64\": %w", err)
	}
	return d[:n], nil
}

func hasBackslash(s []byte) bool {
	for _, c := range s {
		if c == '\\' {
			return true
		}
	}
	return false
}

// syntaxError describes invalid JSON at b[i].
func syntaxError(b []byte, i int) error {
	if i >= len(b) {
		return fmt.Errorf("cloudevent: invalid JSON: unexpected end of input")
	}
	return fmt.Errorf("cloudevent: invalid JSON at byte %d (%q)", i, b[i])
}
