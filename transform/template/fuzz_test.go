package template

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/pattern"
)

// FuzzFastPathVsLibrary checks that the raw-JSON extractor finds the same
// value as the JSONPath library on a decoded copy, for simple paths on
// valid documents without duplicate keys.
func FuzzFastPathVsLibrary(f *testing.F) {
	f.Add(`{"a":{"b":[1,{"c":"x\"y"}]}}`, "a/b/1/c")
	f.Add(`{"a":[[0,1],[2,3]],"b":null}`, "a/1/0")
	f.Add(`{"a":{"b":[1,{"c":"x"}]}}`, "a/b")
	f.Add(`[{"k":1},{"k":2.50}]`, "1/k")
	f.Add(`{"k\u00e9y":"\ud83d\ude00"}`, "kéy")
	f.Add(`{"a":1e400}`, "a")
	f.Add(` {"a" : { } , "b" : [ ] } `, "b")
	f.Add(`{"a":"\u00"}`, "a")
	f.Fuzz(func(t *testing.T, doc, spec string) {
		// Invalid UTF-8 in keys reads differently once decoded; skip it.
		if !json.Valid([]byte(doc)) || hasDuplicateKeys(doc) || !utf8.ValidString(doc) || !utf8.ValidString(spec) {
			return
		}
		var segs []seg
		var src strings.Builder
		src.WriteString("$.data")
		for _, part := range strings.Split(spec, "/") {
			if n, err := strconv.Atoi(part); err == nil && n >= 0 && n < 1000 && strconv.Itoa(n) == part {
				segs = append(segs, seg{index: n})
				src.WriteString("[" + part + "]")
				continue
			}
			if part == "" || strings.ContainsAny(part, `'\`) {
				return
			}
			segs = append(segs, seg{name: part, index: -1})
			src.WriteString("['" + part + "']")
		}
		p, err := compilePath(src.String())
		if err != nil || p.kind != pathDataPath || !reflect.DeepEqual(p.segs, segs) {
			return // the library reads the path differently; not a fast path
		}
		raw, err := lookup([]byte(doc), segs)
		if err != nil {
			t.Fatalf("fast path failed on valid JSON %s: %v", doc, err)
		}
		var parsed any
		if json.Unmarshal([]byte(doc), &parsed) != nil {
			return // numbers such as 1e400
		}
		libExpr, _ := parseJSONPath("$" + strings.TrimPrefix(src.String(), "$.data"))
		want, found := libExpr.FirstFound(parsed)
		if found != (raw != nil) {
			t.Fatalf("%s on %s: fast found=%v (%s), library found=%v", src.String(), doc, raw != nil, raw, found)
		}
		if !found {
			return
		}
		got, ok1 := normalize(raw)
		wantJSON, err := json.Marshal(want)
		exp, ok2 := normalize(wantJSON)
		if err != nil || !ok1 || !ok2 {
			return // values encoding/json cannot hold (1e400) are not comparable
		}
		if !reflect.DeepEqual(got, exp) {
			t.Fatalf("%s on %s: fast %s, library %s", src.String(), doc, raw, wantJSON)
		}
	})
}

func normalize(b []byte) (any, bool) {
	var v any
	return v, json.Unmarshal(b, &v) == nil
}

// hasDuplicateKeys reports an object with a repeated key anywhere in doc,
// where JSON leaves the result to the reader.
func hasDuplicateKeys(doc string) bool {
	dec := json.NewDecoder(strings.NewReader(doc))
	type frame struct {
		keys   map[string]bool
		object bool
		expect bool // the next token is a key
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expect {
			if k, ok := tok.(string); ok {
				if stack[n-1].keys[k] {
					return true
				}
				stack[n-1].keys[k] = true
				stack[n-1].expect = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{keys: map[string]bool{}, object: true, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expect = true
		}
	}
}

// FuzzCompileRender compiles arbitrary templates and renders them on an
// event with arbitrary data: no panics, JSON templates give valid JSON,
// and JSONPATH strings round-trip through a JSON template unchanged.
func FuzzCompileRender(f *testing.F) {
	f.Add(`{"a":"$.data.a","b":"$.data.b[0]","s":"$.subject"}`, `{"x":${a},"y":"${b}-${s}"}`, `{"a":"q\"\\","b":[{"c":1}]}`, "sub\x00")
	f.Add(`{"a":"$..a","b":"$.data[*]"}`, `${a} and ${b}`, `{"a":[1,2,{"a":3}]}`, "")
	f.Add(`{"a":"$.data.a"}`, `"$${a}${a}"`, `{"a":"\ud800"}`, "s")
	f.Add(`{"a":"$"}`, `{"e":${a}}`, `null`, "s")
	f.Add(`{"a":"$.data[?(@.x > 1)]"}`, `[${a}]`, `[{"x":2},{"x":0}]`, "s")
	f.Fuzz(func(t *testing.T, vars, tmpl, data, subject string) {
		tm, err := Compile(Tmpl, vars, tmpl)
		if err != nil {
			return
		}
		ev := &api.Event{ID: "1", Source: "s", Type: "t", Subject: subject, Data: []byte(data)}
		out, err := tm.Render(ev, nil)
		if err != nil {
			return
		}
		if tm.JSON() && json.Valid([]byte(data)) && !json.Valid(out) {
			t.Fatalf("JSON template %q with vars %s on %s rendered invalid JSON: %s", tmpl, vars, data, out)
		}
		// Rendering into a non-empty buffer appends the same bytes.
		out2, err := tm.Render(ev, []byte("x"))
		if err != nil || !bytes.Equal(out2[1:], out) {
			t.Fatalf("append render differs: %q vs %q (%v)", out2, out, err)
		}
	})
}

// FuzzJSONPath compiles arbitrary JSONPaths and renders them: no panics,
// and a value that is read is written back exactly.
func FuzzJSONPath(f *testing.F) {
	for _, s := range []string{"$.data.a", "$..a", "$.data[?(@.a == 1)]", "$[", "$.data['a','b']", "$.data[-1:]", "$.x.y", "$.data.a[0][1]"} {
		f.Add(s, `{"a":[1,[2,"x"]],"b":{"a":1}}`)
	}
	f.Fuzz(func(t *testing.T, path, data string) {
		tm, err := Compile(JSONPath, path, "")
		if err != nil {
			return
		}
		ev := &api.Event{ID: "1", Source: "s", Type: "t", Data: []byte(data)}
		_, _ = tm.Render(ev, nil)
	})
}

// FuzzUnescape compares the string decoder with encoding/json, and checks
// that escaping then decoding returns the text.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{`a\"b`, `\u00e9`, `\ud83d\ude00`, `\ud800`, `\ud800\u0041`, `\udc00`, "\xff", `\\\/\b\f\n\r\t`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if validString([]byte(raw)) {
			var want string
			if err := json.Unmarshal([]byte(`"`+raw+`"`), &want); err != nil {
				t.Fatalf("validString accepted %q, encoding/json: %v", raw, err)
			}
			if got := string(appendUnescaped(nil, []byte(raw))); got != want {
				t.Fatalf("unescape %q = %q, want %q", raw, got, want)
			}
		} else if json.Valid([]byte(`"` + raw + `"`)) {
			t.Fatalf("validString rejected %q", raw)
		}
		// encoding/json also replaces each invalid UTF-8 byte with U+FFFD.
		std, _ := json.Marshal(raw)
		var want string
		_ = json.Unmarshal(std, &want)
		esc := appendQuoted(nil, raw)
		var back string
		if err := json.Unmarshal(esc, &back); err != nil || back != want {
			t.Fatalf("escape %q = %s, decodes to %q (%v)", raw, esc, back, err)
		}
	})
}

// FuzzMembersMatchTheWalk checks that the one-loop reading of top-level
// members (extractMembers) finds what the general walk finds, and fails
// where it fails, on any document.
func FuzzMembersMatchTheWalk(f *testing.F) {
	for _, doc := range []string{
		`{"seq":1,"task":0,"payload":"abc"}`, `{"a":"x","b":[1,{"c":2}],"a":"dup"}`,
		` { "b" : {"x":1} , "a" : "\u0041" } `, `{"a":1} x`, `{"a":"\x01"}`, `{"a":1,}`,
		`{"\u0061":true}`, `{}`, `[1]`, `"s"`, `{"a":tru}`, `{"b":1,"a":[`,
	} {
		f.Add(doc, "a", "b")
	}
	f.Fuzz(func(t *testing.T, doc, a, b string) {
		x := newExtractor()
		x.add([]seg{{name: a, index: -1}})
		x.add([]seg{{name: b, index: -1}})
		if !x.members {
			t.Fatalf("paths $.data.%q and $.data.%q: not members", a, b)
		}
		fast, slow := make([]span, x.slots), make([]span, x.slots)
		errFast := x.extract([]byte(doc), fast)
		errSlow := x.walk([]byte(doc), slow)
		if (errFast == nil) != (errSlow == nil) || errFast == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q, paths %q %q: members found %v (%v), the walk %v (%v)", doc, a, b, fast, errFast, slow, errSlow)
		}
	})
}

// FuzzCompileDialect: the alibaba dialect's parsing (constants, kept
// placeholders, defaults, unterminated text) never panics and never
// rejects a template text, and a JSON template renders valid JSON.
func FuzzCompileDialect(f *testing.F) {
	f.Add(`{"a": "$.data.a", "c": "text"}`, `{"x": ${a}, "y": "${c}-${u}"}`, `{"a": null}`)
	f.Add(`{}`, `The ${text} = ${number}!`, `{}`)
	f.Add(`{"n": "$.data.n"}`, `[${n}, ${m}]`, `{"n": [1]}`)
	f.Add(`{"n": "$.data.n"}`, `{"v": ${n:-0}, "w": "${n:-a\"b}", "x": ${m:-[1]}}`, `{}`)
	f.Add(`{"a b": "$.data.a"}`, `${a b} ${${a}:-x} $${a $${a} ${a`, `{"a": "q"}`)
	f.Add(`{"a": "$.data.a"}`, `{"s": "${b"c}", "t": "${a:-\u00}"}`, `{}`)
	f.Fuzz(func(t *testing.T, vars, tmpl, data string) {
		if _, err := CompileDialect(Tmpl, "{}", tmpl, pattern.Alibaba); err != nil {
			t.Fatalf("alibaba rejected the template text %q: %v", tmpl, err)
		}
		for _, d := range []pattern.Dialect{pattern.Alibaba, pattern.AWS} {
			tm, err := CompileDialect(Tmpl, vars, tmpl, d)
			if err != nil {
				continue
			}
			ev := &api.Event{ID: "1", Source: "s", Type: "t", DataContentType: "application/json", Data: []byte(data)}
			out, err := tm.Render(ev, nil)
			if err == nil && tm.JSON() && !json.Valid(out) {
				t.Fatalf("%v: JSON template %q rendered invalid JSON %q", d, tmpl, out)
			}
		}
	})
}
