package template

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/internal/rawjson"
	"github.com/ohler55/ojg/jp"
)

// valKind is what a path resolved to on one event.
type valKind uint8

const (
	valMissing valKind = iota
	valNull
	valJSON   // raw holds one JSON value other than null
	valText   // s holds a string attribute or text data
	valTime   // t, shown in RFC 3339
	valBytes  // raw holds bytes shown as base64
	valScalar // x holds a bool or number extension
	valEvent  // the whole event in structured JSON
)

type val struct {
	kind valKind
	raw  []byte
	s    string
	t    time.Time
	x    any
}

// mode says how a value is written where a placeholder stands.
type mode uint8

const (
	modeText     mode = iota // plain text: strings without quotes, missing and null empty
	modeValue                // a JSON value: strings quoted, missing and null as null
	modeInString             // inside a JSON string: the text, escaped
)

// appendVal writes v at placeholder pt, in its mode.
func appendVal(dst []byte, v *val, pt *part, ev *api.Event) ([]byte, error) {
	m := pt.mode
	switch v.kind {
	case valMissing:
		dst = append(dst, pt.miss...)
	case valNull:
		dst = append(dst, pt.null...)
	case valJSON:
		dst = appendRaw(dst, v.raw, m, pt.null)
	case valText:
		dst = appendText(dst, v.s, m)
	case valTime:
		dst = appendQuote(dst, m)
		dst = v.t.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = appendQuote(dst, m)
	case valBytes:
		dst = appendQuote(dst, m)
		dst = base64.StdEncoding.AppendEncode(dst, v.raw)
		dst = appendQuote(dst, m)
	case valScalar:
		switch x := v.x.(type) {
		case bool:
			dst = strconv.AppendBool(dst, x)
		case int:
			dst = strconv.AppendInt(dst, int64(x), 10)
		case int32:
			dst = strconv.AppendInt(dst, int64(x), 10)
		case int64:
			dst = strconv.AppendInt(dst, x, 10)
		case float64:
			dst = strconv.AppendFloat(dst, x, 'g', -1, 64)
		}
	case valEvent:
		if m != modeInString {
			return appendEvent(dst, ev)
		}
		b, err := ev.AppendJSON(nil)
		if err != nil {
			return dst, err
		}
		dst = appendEscaped(dst, unsafeString(b))
	}
	return dst, nil
}

// appendRaw writes one valid JSON value found in data; null writes null
// (the part's text for a null).
func appendRaw(dst, raw []byte, m mode, null string) []byte {
	if string(raw) == "null" {
		return append(dst, null...)
	}
	isString := raw[0] == '"'
	switch {
	case isString && m == modeText:
		return appendUnescaped(dst, raw[1:len(raw)-1])
	case isString && m == modeInString:
		return append(dst, raw[1:len(raw)-1]...) // already escaped
	case m == modeInString:
		return appendEscaped(dst, unsafeString(raw))
	}
	return append(dst, raw...)
}

// appendText writes a string attribute or text data.
func appendText(dst []byte, s string, m mode) []byte {
	switch m {
	case modeText:
		return append(dst, s...)
	case modeValue:
		return appendQuoted(dst, s)
	}
	return appendEscaped(dst, s)
}

func appendQuote(dst []byte, m mode) []byte {
	if m == modeValue {
		return append(dst, '"')
	}
	return dst
}

func resolveExt(p *path, ev *api.Event) val {
	x, ok := ev.Extensions[p.name]
	if !ok {
		return val{}
	}
	switch t := x.(type) {
	case string:
		return val{kind: valText, s: t}
	case time.Time:
		return val{kind: valTime, t: t}
	case []byte:
		return val{kind: valBytes, raw: t}
	case bool, int, int32, int64, float64:
		return val{kind: valScalar, x: x}
	}
	return val{}
}

// dataForm classifies an event's data as the structured format carries it.
type dataForm uint8

const (
	dataNone dataForm = iota
	dataJSON
	dataText
	dataBinary
)

func formOf(ev *api.Event) dataForm {
	switch {
	case ev.Data == nil:
		return dataNone
	case ev.DataContentType == "" || ev.DataContentType == "application/json" || api.IsJSONContentType(ev.DataContentType):
		if len(ev.Data) == 0 {
			return dataNone
		}
		return dataJSON
	case len(ev.DataContentType) >= 5 && ev.DataContentType[:5] == "text/" && utf8.Valid(ev.Data):
		return dataText
	default:
		return dataBinary
	}
}

// rawVal wraps a raw JSON value found in data.
func rawVal(raw []byte) val {
	if string(raw) == "null" {
		return val{kind: valNull}
	}
	return val{kind: valJSON, raw: raw}
}

// trimJSON drops the whitespace around a JSON document.
func trimJSON(b []byte) []byte { return rawjson.Trim(b) }

// libDoc is the event decoded for the JSONPath library, built at most once
// per render and only for templates with general paths.
type libDoc struct {
	raw []byte // the event in structured JSON
	doc any
}

func newLibDoc(ev *api.Event) (*libDoc, error) {
	raw, err := ev.AppendJSON(nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrData, err)
	}
	// encoding/json rather than the library's own parser, which decodes
	// some surrogate pairs wrongly; filters then compare correct strings.
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrData, err)
	}
	return &libDoc{raw: raw, doc: doc}, nil
}

// resolveLibrary evaluates a general path: the library locates the
// matches on the decoded copy, and their raw JSON is then cut from the
// encoded event, so numbers and strings keep their exact text.
func resolveLibrary(p *path, d *libDoc) (val, error) {
	locs := locate(p.expr, d.doc)
	// The decoded copy's maps have no order; sorting the matches gives
	// document order for arrays and key order for objects, the same on
	// every render.
	slices.SortFunc(locs, compareLocs)
	var out []byte
	if p.multi {
		out = append(out, '[')
	}
	n := 0
	for _, loc := range locs {
		segs := make([]seg, 0, len(loc))
		for _, f := range loc {
			switch f := f.(type) {
			case jp.Child:
				segs = append(segs, seg{name: string(f), index: -1})
			case jp.Nth:
				segs = append(segs, seg{index: int(f)})
			}
		}
		raw, err := lookup(d.raw, segs)
		if err != nil {
			return val{}, err
		}
		if raw == nil {
			continue
		}
		if !p.multi {
			return rawVal(raw), nil
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, raw...)
		n++
	}
	if !p.multi {
		return val{}, nil
	}
	return val{kind: valJSON, raw: append(out, ']')}, nil
}

// locate runs the library, turning a panic on odd input into no match.
func locate(x jp.Expr, doc any) (locs []jp.Expr) {
	defer func() {
		if recover() != nil {
			locs = nil
		}
	}()
	return x.Locate(doc, 0)
}

// compareLocs orders normalized paths: indexes numerically, names as
// strings, a parent before its children.
func compareLocs(a, b jp.Expr) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		switch x := a[i].(type) {
		case jp.Nth:
			if y, ok := b[i].(jp.Nth); ok {
				if c := cmp.Compare(x, y); c != 0 {
					return c
				}
				continue
			}
			return -1
		case jp.Child:
			if y, ok := b[i].(jp.Child); ok {
				if c := cmp.Compare(x, y); c != 0 {
					return c
				}
				continue
			}
			return 1
		}
	}
	return cmp.Compare(len(a), len(b))
}

// appendEvent is AppendJSON that leaves dst intact on error.
func appendEvent(dst []byte, ev *api.Event) ([]byte, error) {
	out, err := ev.AppendJSON(dst)
	if err != nil {
		return dst, err
	}
	return out, nil
}
