package template

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/pattern"
)

// The four forms of an EventBridge event transform.
const (
	Original = "ORIGINAL" // the complete event in structured JSON
	JSONPath = "JSONPATH" // one value selected by a JSONPath
	Constant = "CONSTANT" // a fixed string
	Tmpl     = "TEMPLATE" // variables (JSONPaths) substituted into a template
)

// Forms lists the forms, for a config field's Enum.
var Forms = []string{Original, JSONPath, Constant, Tmpl}

// formKind is a form as a number, for Render's switch.
type formKind uint8

const (
	kindPaths    formKind = iota // JSONPATH and TEMPLATE: parts
	kindOriginal                 // ORIGINAL
	kindConstant                 // CONSTANT
)

// Template is a compiled event transform. It is immutable and safe for
// concurrent use.
type Template struct {
	form     string
	kind     formKind // form, compared cheaply on every render
	constant string
	json     bool   // every render is valid JSON
	parts    []part // JSONPATH and TEMPLATE
	paths    []path // the distinct paths the parts read
	x        *extractor
	library  bool // some path needs the decoded event
	whole    bool // some path is $.data
	dialect  pattern.Dialect
}

// part is a literal followed by an optional placeholder.
type part struct {
	lit  string
	path int // index into paths, or -1
	mode mode
	// op says how Render writes the placeholder: the common kinds, a
	// context attribute held in a string field and data found by the
	// extractor, are written in Render's loop, the rest by appendPath.
	op   partOp
	attr attrField // opAttr
	slot int       // opData: the extractor slot
	// keep, in the alibaba dialect, is the placeholder's own text
	// ("${name}"): a missing value outside JSON value position writes it,
	// a null writes null, and a placeholder with no variable is kept.
	keep string
}

// partOp is the way Render writes a part's placeholder.
type partOp uint8

const (
	opNone partOp = iota // no placeholder
	opAttr               // a string context attribute
	opData               // a data path found by the extractor
	opPath               // anything else: appendPath
	opKeep               // alibaba: a placeholder with no variable, kept as written
)

// attrField is a string context attribute, resolved once when compiling
// rather than by name on every render.
type attrField uint8

const (
	attrID attrField = iota
	attrSource
	attrSpecVersion
	attrType
	attrSubject
	attrDataContentType
	attrDataSchema
)

var attrFields = map[string]attrField{
	"id": attrID, "source": attrSource, "specversion": attrSpecVersion, "type": attrType,
	"subject": attrSubject, "datacontenttype": attrDataContentType, "dataschema": attrDataSchema,
}

// attrValue is ev.Attribute for a resolved field.
func attrValue(ev *api.Event, f attrField) string {
	switch f {
	case attrID:
		return ev.ID
	case attrSource:
		return ev.Source
	case attrSpecVersion:
		if ev.SpecVersion == "" {
			return api.SpecVersion
		}
		return ev.SpecVersion
	case attrType:
		return ev.Type
	case attrSubject:
		return ev.Subject
	case attrDataContentType:
		return ev.DataContentType
	}
	return ev.DataSchema
}

// setOp chooses how Render writes p's placeholder.
func (t *Template) setOp(p *part) {
	switch {
	case p.path < 0 && p.keep != "":
		p.op = opKeep
	case p.path < 0:
		p.op = opNone
	case t.paths[p.path].kind == pathDataPath:
		p.op, p.slot = opData, t.paths[p.path].slot
	case t.paths[p.path].kind == pathAttr:
		if f, ok := attrFields[t.paths[p.path].name]; ok {
			p.op, p.attr = opAttr, f
			return
		}
		p.op = opPath // time
	default:
		p.op = opPath
	}
}

// Compile compiles an event transform; its errors are *Error. value is the JSONPath (JSONPATH),
// the string (CONSTANT) or the variables map as a JSON object of name →
// JSONPath (TEMPLATE); tmpl is the template text and is used by TEMPLATE
// only.
//
// Compile renders as Ferry always has (a missing value or null is empty
// text, null as a JSON value; every placeholder needs a variable, every
// variable a JSONPath), which sink parameters rely on; the template
// transform compiles with CompileDialect.
func Compile(form, value, tmpl string) (*Template, error) {
	return CompileDialect(form, value, tmpl, pattern.AWS)
}

// CompileDialect is Compile in dialect d. Alibaba renders as Alibaba
// Cloud EventBridge's engine: outside JSON value position a missing value
// leaves its placeholder ${name} as written and a null writes null; a
// placeholder with no variable is kept as written; a variable whose value
// does not start with $ is a constant text.
func CompileDialect(form, value, tmpl string, d pattern.Dialect) (*Template, error) {
	t := &Template{form: form, dialect: d}
	if form != Tmpl && tmpl != "" {
		return nil, errorf("template", "a template text is used only with form %s, not %s", Tmpl, form)
	}
	switch form {
	case Original:
		if value != "" {
			return nil, errorf("value", "form %s takes no value", Original)
		}
		t.json, t.kind = true, kindOriginal
	case Constant:
		t.constant, t.kind = value, kindConstant
		t.json = json.Valid([]byte(value))
	case JSONPath:
		if value == "" {
			return nil, errorf("value", "form %s needs a JSONPath such as $.data.id", JSONPath)
		}
		i, err := t.addPath(value)
		if err != nil {
			return nil, errorf("value", "%v", err)
		}
		t.parts = []part{{path: i, mode: modeText}}
	case Tmpl:
		if err := t.compileTemplate(value, tmpl); err != nil {
			return nil, err
		}
	default:
		return nil, errorf("form", "unknown form %q; use one of %s", form, strings.Join(Forms, ", "))
	}
	for i := range t.parts {
		t.setOp(&t.parts[i])
	}
	return t, nil
}

// MustCompile is Compile for tests and fixed templates; it panics on error.
func MustCompile(form, value, tmpl string) *Template {
	t, err := Compile(form, value, tmpl)
	if err != nil {
		panic(err)
	}
	return t
}

// Form returns the template's form.
func (t *Template) Form() string { return t.form }

// JSON reports whether every render is valid JSON: ORIGINAL, a TEMPLATE
// whose template is JSON, and a CONSTANT that is JSON. For JSONPATH and
// text templates it depends on the event.
func (t *Template) JSON() bool { return t.json }

// addPath compiles a path and returns its index, sharing equal paths.
func (t *Template) addPath(src string) (int, error) {
	for i := range t.paths {
		if t.paths[i].src == src {
			return i, nil
		}
	}
	p, err := compilePath(src)
	if err != nil {
		return 0, err
	}
	switch p.kind {
	case pathDataPath:
		if t.x == nil {
			t.x = newExtractor()
		}
		p.slot = t.x.add(p.segs)
	case pathLibrary:
		t.library = true
	case pathData:
		t.whole = true
	}
	t.paths = append(t.paths, p)
	return len(t.paths) - 1, nil
}

// addConst adds a constant variable's text as a path that always has it.
func (t *Template) addConst(text string) int {
	t.paths = append(t.paths, path{src: text, kind: pathConst, name: text})
	return len(t.paths) - 1
}

func (t *Template) compileTemplate(vars, tmpl string) *Error {
	if vars == "" {
		vars = "{}"
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(vars), &m); err != nil || m == nil {
		return errorf("value", `the variables of form %s must be a JSON object of name to JSONPath, such as {"id": "$.data.id"}`, Tmpl)
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	paths := make(map[string]string, len(m))
	for _, name := range names {
		src, ok := m[name].(string)
		if !ok {
			return errorf("value", "variable %q: its value must be a JSONPath string", name)
		}
		if !validName(name) {
			return errorf("value", "variable %q: names use letters, digits, '_', '-' and '.' only", name)
		}
		if t.dialect == pattern.Alibaba && !strings.HasPrefix(src, "$") {
			paths[name] = src // a constant
			continue
		}
		if _, err := compilePath(src); err != nil {
			return errorf("value", "variable %q: %v", name, err)
		}
		paths[name] = src
	}
	lits, names, err := splitTemplate(tmpl)
	if err != nil {
		return errorf("template", "%v", err)
	}
	modes := placeholderModes(lits)
	t.json = isJSONTemplate(lits, modes)
	for i, lit := range lits {
		p := part{lit: lit, path: -1}
		if i < len(names) {
			src, ok := paths[names[i]]
			if t.dialect == pattern.Alibaba {
				p.keep = "${" + names[i] + "}"
			}
			switch {
			case !ok && t.dialect == pattern.Alibaba:
				if modes[i] == modeValue {
					t.json = false // ${x} itself is not a JSON value
				}
				t.parts = append(t.parts, p) // kept as written
				continue
			case !ok:
				return errorf("template", "${%s} has no variable; defined: %s", names[i], strings.Join(slices.Sorted(maps.Keys(paths)), ", "))
			case !strings.HasPrefix(src, "$"):
				p.path = t.addConst(src)
			default:
				if p.path, err = t.addPath(src); err != nil {
					return errorf("value", "%v", err)
				}
			}
			p.mode = modeText
			if t.json {
				p.mode = modes[i]
			}
		}
		t.parts = append(t.parts, p)
	}
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// splitTemplate splits tmpl at its ${name} placeholders: len(lits) ==
// len(names)+1 and placeholder i stands between lits[i] and lits[i+1].
// "$${" writes a literal "${".
func splitTemplate(tmpl string) (lits, names []string, err error) {
	var cur strings.Builder
	for i := 0; i < len(tmpl); {
		if strings.HasPrefix(tmpl[i:], "$${") {
			cur.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(tmpl[i:], "${") {
			cur.WriteByte(tmpl[i])
			i++
			continue
		}
		end := strings.IndexByte(tmpl[i+2:], '}')
		if end < 0 {
			return nil, nil, fmt.Errorf("unterminated placeholder at offset %d of the template (write $${ for a literal ${)", i)
		}
		name := tmpl[i+2 : i+2+end]
		if !validName(name) {
			return nil, nil, fmt.Errorf("bad placeholder ${%s} at offset %d of the template: names use letters, digits, '_', '-' and '.' (write $${ for a literal ${)", name, i)
		}
		lits = append(lits, cur.String())
		names = append(names, name)
		cur.Reset()
		i += 2 + end + 1
	}
	return append(lits, cur.String()), names, nil
}

// placeholderModes says, for each placeholder, whether it stands inside a
// JSON string literal of the template or in value position, by following
// the quotes of the literal text around it.
func placeholderModes(lits []string) []mode {
	modes := make([]mode, len(lits)-1)
	inString := false
	for i, lit := range lits[:len(lits)-1] {
		for j := 0; j < len(lit); j++ {
			switch lit[j] {
			case '\\':
				if inString {
					j++
				}
			case '"':
				inString = !inString
			}
		}
		modes[i] = modeValue
		if inString {
			modes[i] = modeInString
		}
	}
	return modes
}

// isJSONTemplate reports whether the template is JSON once placeholders in
// value position hold a value and those in strings hold text.
func isJSONTemplate(lits []string, modes []mode) bool {
	var b []byte
	for i, lit := range lits {
		b = append(b, lit...)
		if i < len(modes) && modes[i] == modeValue {
			b = append(b, "null"...)
		}
	}
	return json.Valid(b)
}

// maxStack is how many data paths one render locates without allocating.
const maxStack = 8

// Render appends the transform's output for ev to dst and returns it. With
// a reused dst, CONSTANT and templates of attributes and simple data paths
// do not allocate. The error wraps ErrData when the data the template reads
// is not valid JSON; dst is then returned as it came.
func (t *Template) Render(ev *api.Event, dst []byte) ([]byte, error) {
	switch t.kind {
	case kindOriginal:
		out, err := appendEvent(dst, ev)
		if err != nil {
			return dst, fmt.Errorf("template: %w", err)
		}
		return out, nil
	case kindConstant:
		return append(dst, t.constant...), nil
	}
	form := formOf(ev)
	var stack [maxStack]span
	var spans []span
	if t.x != nil && form == dataJSON {
		spans = stack[:0]
		if t.x.slots > maxStack {
			spans = make([]span, 0, t.x.slots)
		}
		spans = spans[:t.x.slots]
		if err := t.x.extract(ev.Data, spans); err != nil {
			return dst, fmt.Errorf("template: %w", err)
		}
	}
	var data []byte
	if t.whole && form == dataJSON {
		// $.data is checked once, however many placeholders show it.
		if data = trimJSON(ev.Data); len(data) == 0 || !validValue(data) {
			return dst, fmt.Errorf("template: %w", ErrData)
		}
	}
	var lib []val
	if t.library {
		var err error
		if lib, err = t.resolveLibrary(ev); err != nil {
			return dst, err
		}
	}
	out := dst
	for i := range t.parts {
		p := &t.parts[i]
		out = append(out, p.lit...)
		switch p.op {
		case opAttr:
			if s := attrValue(ev, p.attr); s != "" {
				out = appendText(out, s, p.mode)
			} else {
				out = appendMissing(out, p.mode, p.keep)
			}
		case opData:
			if spans != nil && spans[p.slot].hi != 0 {
				sp := spans[p.slot]
				out = appendRaw(out, ev.Data[sp.lo:sp.hi], p.mode, p.keep)
			} else {
				out = appendMissing(out, p.mode, p.keep)
			}
		case opKeep:
			out = append(out, p.keep...)
		case opPath:
			var err error
			if out, err = t.appendPath(out, p, ev, form, spans, data, lib); err != nil {
				return dst, fmt.Errorf("template: %w", err)
			}
		}
	}
	return out, nil
}

// appendPath writes the value of path i on ev in mode m. Attributes and
// data found by the extractor (spans) are written straight from the event;
// data is the checked data for $.data, and library paths were resolved
// beforehand into lib. (Separate arguments rather than a struct: a pointer
// to one holding spans would move the spans' stack array to the heap.)
func (t *Template) appendPath(dst []byte, pt *part, ev *api.Event, form dataForm, spans []span, data []byte, lib []val) ([]byte, error) {
	i, m, keep := pt.path, pt.mode, pt.keep
	p := &t.paths[i]
	switch p.kind {
	case pathAttr:
		if p.name == "time" {
			if ev.Time.IsZero() {
				return appendMissing(dst, m, keep), nil
			}
			v := val{kind: valTime, t: ev.Time}
			return appendVal(dst, &v, m, ev, keep)
		}
		s, _ := ev.Attribute(p.name)
		if s == "" {
			return appendMissing(dst, m, keep), nil
		}
		return appendText(dst, s, m), nil
	case pathDataPath:
		if spans == nil || spans[p.slot].hi == 0 {
			return appendMissing(dst, m, keep), nil
		}
		return appendRaw(dst, ev.Data[spans[p.slot].lo:spans[p.slot].hi], m, keep), nil
	case pathData:
		switch form {
		case dataJSON:
			return appendRaw(dst, data, m, keep), nil
		case dataText:
			return appendText(dst, unsafeString(ev.Data), m), nil
		}
		return appendMissing(dst, m, keep), nil
	case pathConst:
		return appendText(dst, p.name, m), nil
	case pathLibrary:
		return appendVal(dst, &lib[i], m, ev, keep)
	}
	var v val
	switch p.kind {
	case pathEvent:
		v = val{kind: valEvent}
	case pathExt:
		v = resolveExt(p, ev)
	case pathDataBase64:
		if form == dataBinary {
			v = val{kind: valBytes, raw: ev.Data}
		}
	}
	return appendVal(dst, &v, m, ev, keep)
}

// resolveLibrary evaluates the template's general paths on one decoded
// copy of ev; lib[i] holds path i's value.
func (t *Template) resolveLibrary(ev *api.Event) ([]val, error) {
	doc, err := newLibDoc(ev)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	lib := make([]val, len(t.paths))
	for i := range t.paths {
		if t.paths[i].kind != pathLibrary {
			continue
		}
		if lib[i], err = resolveLibrary(&t.paths[i], doc); err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
	}
	return lib, nil
}
