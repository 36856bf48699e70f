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
	// keep, in the alibaba dialect, is what a missing value writes
	// outside JSON value position: the placeholder's own text ("${name}"),
	// or its default ("${name:-text}" writes text). A placeholder with no
	// variable writes it whatever the event.
	keep string
	def  bool // keep is a default, written in every mode
	// miss and null are what a missing value and a null write here, set
	// once the mode is known (setAbsent).
	miss, null string
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

// setAbsent sets what a missing value and a null write at p. As a JSON
// value both are null (unless a default is given); as text both are
// empty, except in the alibaba dialect, where a missing value writes keep
// (the placeholder as written, or its default; empty for JSONPATH, as
// Alibaba's JsonPathTransform) and a null writes the word null.
func (t *Template) setAbsent(p *part) {
	p.miss = p.keep
	if p.mode == modeValue && !p.def {
		p.miss = "null"
	}
	if p.mode == modeValue || t.dialect == pattern.Alibaba {
		p.null = "null"
	}
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
// Compile renders in the aws dialect (a missing value or null is empty
// text, null as a JSON value; every placeholder needs a variable, every
// variable a JSONPath), which the rds sink's column values and the http
// sink's headers and query rely on: a missing value must not become the
// text ${name} in a row or a header, and a malformed template is refused
// when the connector is created. Sink parameters (ParamSpec) and the
// template transform compile with CompileDialect.
func Compile(form, value, tmpl string) (*Template, error) {
	return CompileDialect(form, value, tmpl, pattern.AWS)
}

// CompileDialect is Compile in dialect d. Alibaba renders as Alibaba
// Cloud EventBridge's engine (apache/rocketmq-eventbridge, whose templates
// are commons-text's StringSubstitutor): outside JSON value position a
// missing value leaves its placeholder ${name} as written and a null
// writes null (JSONPATH too); ${name:-text} writes text when the value is
// missing; a placeholder with no variable, or one that is unterminated or
// not a name, is kept as written; a variable whose value does not start
// with $ is a constant text; variable names are any text.
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
		t.setAbsent(&t.parts[i])
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
	alibaba := t.dialect == pattern.Alibaba
	paths := make(map[string]string, len(m))
	for _, name := range names {
		src, ok := m[name].(string)
		if !ok {
			return errorf("value", "variable %q: its value must be a JSONPath string", name)
		}
		if !alibaba && !validName(name) {
			return errorf("value", "variable %q: names use letters, digits, '_', '-' and '.' only", name)
		}
		if alibaba && !strings.HasPrefix(src, "$") {
			paths[name] = src // a constant
			continue
		}
		if _, err := compilePath(src); err != nil {
			return errorf("value", "variable %q: %v", name, err)
		}
		paths[name] = src
	}
	lits, phs, err := splitTemplate(tmpl, t.dialect)
	if err != nil {
		return errorf("template", "%v", err)
	}
	modes := placeholderModes(lits)
	t.json = isJSONTemplate(lits, modes)
	for i, lit := range lits {
		p := part{lit: lit, path: -1}
		if i < len(phs) {
			ph := phs[i]
			src, ok := paths[ph.name]
			if alibaba {
				p.keep, p.def = ph.text, ph.hasDef
				if ph.hasDef {
					p.keep = ph.def
				}
				if t.json && !keptFits(ph, modes[i]) {
					t.json = false // written as given, as the reference does
				}
			}
			switch {
			case !ok && alibaba:
				if !ph.hasDef && modes[i] == modeValue {
					t.json = false // ${x} itself is not a JSON value
				}
				t.parts = append(t.parts, p) // kept as written, or its default
				continue
			case !ok:
				return errorf("template", "${%s} has no variable; defined: %s", ph.name, strings.Join(slices.Sorted(maps.Keys(paths)), ", "))
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
	if !t.json {
		for i := range t.parts {
			t.parts[i].mode = modeText
		}
	}
	return nil
}

// keptFits reports whether what the alibaba dialect writes as given for a
// missing value — the default, or inside a string the placeholder's own
// text — keeps a JSON template JSON: a JSON value in value position (where
// a missing value with no default is null), string content inside a
// string.
func keptFits(ph placeholder, m mode) bool {
	switch {
	case m == modeValue && ph.hasDef:
		return json.Valid([]byte(ph.def))
	case m == modeValue:
		return true
	case ph.hasDef:
		return json.Valid([]byte(`"` + ph.def + `"`))
	}
	return json.Valid([]byte(`"` + ph.text + `"`))
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

// placeholder is one ${…} of a template text.
type placeholder struct {
	name   string
	text   string // as written, "${name}" or "${name:-default}"
	def    string // alibaba: the text after ":-"
	hasDef bool
}

// splitTemplate splits tmpl at its placeholders: len(lits) == len(phs)+1
// and placeholder i stands between lits[i] and lits[i+1]. "$${" writes a
// literal "${".
//
// In the alibaba dialect it reads the text as commons-text's
// StringSubstitutor (with the defaults Alibaba's engine uses) does: a name
// is any text up to the first "}", "${name:-text}" gives a default, and
// nothing is an error: an unterminated "${" (or "$${") is literal text.
// Elsewhere a name uses letters, digits, '_', '-' and '.', and a malformed
// or unterminated placeholder is an error.
func splitTemplate(tmpl string, d pattern.Dialect) (lits []string, phs []placeholder, err error) {
	alibaba := d == pattern.Alibaba
	var cur strings.Builder
	for i := 0; i < len(tmpl); {
		if strings.HasPrefix(tmpl[i:], "$${") {
			if alibaba && !strings.Contains(tmpl[i+3:], "}") {
				cur.WriteString(tmpl[i:]) // the reference drops the escape only before a whole placeholder
				break
			}
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
			if alibaba {
				cur.WriteString(tmpl[i:])
				break
			}
			return nil, nil, fmt.Errorf("unterminated placeholder at offset %d of the template (write $${ for a literal ${)", i)
		}
		ph := placeholder{name: tmpl[i+2 : i+2+end], text: tmpl[i : i+2+end+1]}
		if alibaba {
			// The first ":-" ends the name, unless a "${" comes before it
			// (StringSubstitutor stops looking at a nested start).
			if k := strings.Index(ph.name, ":-"); k >= 0 && !strings.Contains(ph.name[:k], "${") {
				ph.name, ph.def, ph.hasDef = ph.name[:k], ph.name[k+2:], true
			}
		} else if !validName(ph.name) {
			return nil, nil, fmt.Errorf("bad placeholder ${%s} at offset %d of the template: names use letters, digits, '_', '-' and '.' (write $${ for a literal ${)", ph.name, i)
		}
		lits = append(lits, cur.String())
		phs = append(phs, ph)
		cur.Reset()
		i += 2 + end + 1
	}
	return append(lits, cur.String()), phs, nil
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
				out = append(out, p.miss...)
			}
		case opData:
			if spans != nil && spans[p.slot].hi != 0 {
				sp := spans[p.slot]
				out = appendRaw(out, ev.Data[sp.lo:sp.hi], p.mode, p.null)
			} else {
				out = append(out, p.miss...)
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
	i, m := pt.path, pt.mode
	p := &t.paths[i]
	switch p.kind {
	case pathAttr:
		if p.name == "time" {
			if ev.Time.IsZero() {
				return append(dst, pt.miss...), nil
			}
			v := val{kind: valTime, t: ev.Time}
			return appendVal(dst, &v, pt, ev)
		}
		s, _ := ev.Attribute(p.name)
		if s == "" {
			return append(dst, pt.miss...), nil
		}
		return appendText(dst, s, m), nil
	case pathDataPath:
		if spans == nil || spans[p.slot].hi == 0 {
			return append(dst, pt.miss...), nil
		}
		return appendRaw(dst, ev.Data[spans[p.slot].lo:spans[p.slot].hi], m, pt.null), nil
	case pathData:
		switch form {
		case dataJSON:
			return appendRaw(dst, data, m, pt.null), nil
		case dataText:
			return appendText(dst, unsafeString(ev.Data), m), nil
		}
		return append(dst, pt.miss...), nil
	case pathConst:
		return appendText(dst, p.name, m), nil
	case pathLibrary:
		return appendVal(dst, &lib[i], pt, ev)
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
	return appendVal(dst, &v, pt, ev)
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
