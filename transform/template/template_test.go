package template_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/pattern"
	"github.com/ferryhq/ferry/transform/template"
)

// orderData has nested objects, arrays, escapes, unicode, null and a number
// written with a trailing zero (which must be kept as written).
const orderData = `{"order": {"id": "o-42", "qty": 2, "price": 99.50, "note": "say \"hi\" \\ \u00e9\n\t",
 "tags": ["a", "b"], "buyer": {"name": "Zoë", "vip": true}, "coupon": null, "zero": 0, "neg": -1.5e3},
 "items": [{"sku": "s1"}, {"sku": "s2", "n": [1, [2, 3]]}], "empty": {}, "list": [], "k\"ey": "quoted key", "dup": 1, "dup": 2}`

func orderEvent() *api.Event {
	return &api.Event{
		ID: "e-1", Source: "acs.oss", Type: "order.paid", Subject: `orders/"42"`,
		Time:            time.Date(2026, 11, 23, 8, 0, 0, 123000000, time.FixedZone("CST", 8*3600)),
		DataContentType: "application/json",
		Extensions: map[string]any{"tenant": "t-9", "priority": int64(3), "urgent": true, "ratio": 0.5,
			"since": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "raw": []byte{0xff, 0x01}},
		Data: []byte(orderData),
	}
}

func render(t *testing.T, tm *template.Template, ev *api.Event) string {
	t.Helper()
	out, err := tm.Render(ev, nil)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return string(out)
}

func TestJSONPath(t *testing.T) {
	t.Parallel()
	text := &api.Event{ID: "t", Source: "s", Type: "t", DataContentType: "text/plain; charset=utf-8", Data: []byte(`plain "text"`)}
	binary := &api.Event{ID: "b", Source: "s", Type: "t", DataContentType: "application/octet-stream", Data: []byte{0, 1, 2}}
	noData := &api.Event{ID: "n", Source: "s", Type: "t"}
	cases := []struct {
		name, path, want string
		ev               *api.Event
	}{
		{"string", "$.data.order.id", "o-42", nil},
		{"integer", "$.data.order.qty", "2", nil},
		{"number kept as written", "$.data.order.price", "99.50", nil},
		{"exponent", "$.data.order.neg", "-1.5e3", nil},
		{"zero", "$.data.order.zero", "0", nil},
		{"boolean", "$.data.order.buyer.vip", "true", nil},
		{"escapes decoded", "$.data.order.note", "say \"hi\" \\ é\n\t", nil},
		{"unicode", "$.data.order.buyer.name", "Zoë", nil},
		{"array as JSON", "$.data.order.tags", `["a", "b"]`, nil},
		{"object as JSON", "$.data.order.buyer", `{"name": "Zoë", "vip": true}`, nil},
		{"empty object", "$.data.empty", `{}`, nil},
		{"empty array", "$.data.list", `[]`, nil},
		{"null is empty", "$.data.order.coupon", "", nil},
		{"missing member", "$.data.order.nope", "", nil},
		{"missing below a scalar", "$.data.order.id.x", "", nil},
		{"index", "$.data.items[1].sku", "s2", nil},
		{"nested index", "$.data.items[1].n[1][0]", "2", nil},
		{"index out of range", "$.data.items[5].sku", "", nil},
		{"index on an object", "$.data.order[0]", "", nil},
		{"bracket notation", "$['data']['order']['id']", "o-42", nil},
		{"escaped key", `$.data['k"ey']`, "quoted key", nil},
		{"duplicate key: first wins", "$.data.dup", "1", nil},
		{"whole data", "$.data", orderData, nil},
		{"id", "$.id", "e-1", nil},
		{"source", "$.source", "acs.oss", nil},
		{"type", "$.type", "order.paid", nil},
		{"subject", "$.subject", `orders/"42"`, nil},
		{"time in UTC", "$.time", "2026-11-23T00:00:00.123Z", nil},
		{"specversion default", "$.specversion", "1.0", nil},
		{"datacontenttype", "$.datacontenttype", "application/json", nil},
		{"absent dataschema", "$.dataschema", "", nil},
		{"string extension", "$.tenant", "t-9", nil},
		{"integer extension", "$.priority", "3", nil},
		{"boolean extension", "$.urgent", "true", nil},
		{"float extension", "$.ratio", "0.5", nil},
		{"time extension", "$.since", "2026-01-02T03:04:05Z", nil},
		{"binary extension", "$.raw", "/wE=", nil},
		{"absent extension", "$.nope", "", nil},
		{"below an attribute", "$.id.x", "", nil},
		{"index on the event", "$[0]", "", nil},
		{"wildcard", "$.data.items[*].sku", `["s1","s2"]`, nil},
		{"recursive descent", "$..sku", `["s1","s2"]`, nil},
		{"filter", "$.data.items[?(@.sku == 's2')].sku", `["s2"]`, nil},
		{"filter no match", "$.data.items[?(@.sku == 'zz')].sku", `[]`, nil},
		{"slice", "$.data.order.tags[0:1]", `["a"]`, nil},
		{"union", "$.data.order['id','qty']", `["o-42",2]`, nil},
		{"negative index is one value", "$.data.items[-1].sku", "s2", nil},
		{"negative index out of range", "$.data.items[-9].sku", "", nil},
		{"library keeps number text", "$.data.order[?(@ == 99.5)]", `[99.50]`, nil},
		{"text data", "$.data", `plain "text"`, text},
		{"text data has no members", "$.data.x", "", text},
		{"binary data", "$.data_base64", "AAEC", binary},
		{"binary data is not data", "$.data", "", binary},
		{"json data has no data_base64", "$.data_base64", "", nil},
		{"no data", "$.data.x", "", noData},
		{"no data library", "$.data..x", "[]", noData},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := c.ev
			if ev == nil {
				ev = orderEvent()
			}
			tm, err := template.Compile(template.JSONPath, c.path, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := render(t, tm, ev); got != c.want {
				t.Errorf("%s = %q, want %q", c.path, got, c.want)
			}
		})
	}
}

func TestJSONPathWholeEvent(t *testing.T) {
	t.Parallel()
	ev := orderEvent()
	for _, form := range []struct{ form, value string }{{template.Original, ""}, {template.JSONPath, "$"}} {
		tm := template.MustCompile(form.form, form.value, "")
		out := render(t, tm, ev)
		var back api.Event
		if err := json.Unmarshal([]byte(out), &back); err != nil {
			t.Fatalf("%s: output is not a CloudEvent: %v\n%s", form.form, err, out)
		}
		if back.ID != ev.ID || back.Subject != ev.Subject || !back.Time.Equal(ev.Time) || string(back.Data) != orderData ||
			back.Extensions["tenant"] != "t-9" {
			t.Errorf("%s: round trip lost fields: %+v", form.form, back)
		}
	}
}

func TestConstant(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value string
		json  bool
	}{{"orders", false}, {"", false}, {`{"a":1}`, true}, {"42", true}, {"${not a placeholder}", false}} {
		tm := template.MustCompile(template.Constant, c.value, "")
		if got := render(t, tm, orderEvent()); got != c.value {
			t.Errorf("CONSTANT %q rendered %q", c.value, got)
		}
		if tm.JSON() != c.json {
			t.Errorf("CONSTANT %q: JSON() = %v", c.value, tm.JSON())
		}
	}
}

const vars = `{"id": "$.data.order.id", "qty": "$.data.order.qty", "price": "$.data.order.price",
 "note": "$.data.order.note", "tags": "$.data.order.tags", "buyer": "$.data.order.buyer",
 "coupon": "$.data.order.coupon", "missing": "$.data.nope", "name": "$.data.order.buyer.name",
 "subject": "$.subject", "time": "$.time", "tenant": "$.tenant", "priority": "$.priority",
 "urgent": "$.urgent", "ratio": "$.ratio", "skus": "$.data.items[*].sku", "last": "$.data.items[-1].sku",
 "event": "$", "data": "$.data", "b64": "$.data_base64", "absent": "$.nope", "since": "$.since"}`

func TestTemplate(t *testing.T) {
	t.Parallel()
	text := &api.Event{ID: "t", Source: "s", Type: "t", DataContentType: "text/plain", Data: []byte("line \"1\"\n")}
	binary := &api.Event{ID: "b", Source: "s", Type: "t", DataContentType: "application/octet-stream", Data: []byte{0, 1, 2}}
	cases := []struct {
		name, tmpl, want string
		json             bool
		ev               *api.Event
	}{
		{"values standing alone are JSON", `{"id": ${id}, "qty": ${qty}, "price": ${price}, "tags": ${tags}, "buyer": ${buyer}}`,
			`{"id": "o-42", "qty": 2, "price": 99.50, "tags": ["a", "b"], "buyer": {"name": "Zoë", "vip": true}}`, true, nil},
		{"values inside strings are text", `{"id": "id-${id}", "qty": "${qty}", "tags": "${tags}", "buyer": "<${buyer}>"}`,
			`{"id": "id-o-42", "qty": "2", "tags": "[\"a\", \"b\"]", "buyer": "<{\"name\": \"Zoë\", \"vip\": true}>"}`, true, nil},
		{"escapes stay escaped", `{"a": ${note}, "b": "note: ${note}"}`,
			`{"a": "say \"hi\" \\ \u00e9\n\t", "b": "note: say \"hi\" \\ \u00e9\n\t"}`, true, nil},
		{"missing and null", `{"m": ${missing}, "ms": "x${missing}y", "c": ${coupon}, "cs": "${coupon}", "a": ${absent}}`,
			`{"m": null, "ms": "xy", "c": null, "cs": "", "a": null}`, true, nil},
		{"attributes", `{"s": ${subject}, "ss": "${subject}", "t": ${time}, "ts": "at ${time}"}`,
			`{"s": "orders/\"42\"", "ss": "orders/\"42\"", "t": "2026-11-23T00:00:00.123Z", "ts": "at 2026-11-23T00:00:00.123Z"}`, true, nil},
		{"extensions", `{"t": ${tenant}, "p": ${priority}, "u": ${urgent}, "r": ${ratio}, "ps": "${priority}", "s": ${since}}`,
			`{"t": "t-9", "p": 3, "u": true, "r": 0.5, "ps": "3", "s": "2026-01-02T03:04:05Z"}`, true, nil},
		{"general paths", `{"skus": ${skus}, "last": ${last}, "s": "${skus}"}`,
			`{"skus": ["s1","s2"], "last": "s2", "s": "[\"s1\",\"s2\"]"}`, true, nil},
		{"a placeholder used twice", `[${id}, "${id}", ${id}]`, `["o-42", "o-42", "o-42"]`, true, nil},
		{"JSON string template", `"${id}"`, `"o-42"`, true, nil},
		{"bare value template", `${qty}`, `2`, true, nil},
		{"escaped quote before a placeholder", `{"a": "\"${id}\""}`, `{"a": "\"o-42\""}`, true, nil},
		{"text template", `Order ${id}: ${qty} x ${price} for ${name}${missing}.`, `Order o-42: 2 x 99.50 for Zoë.`, false, nil},
		{"text template writes raw text", `note=${note} tags=${tags}`, "note=say \"hi\" \\ é\n\t tags=[\"a\", \"b\"]", false, nil},
		{"not JSON: placeholder as a key", `{${id}: 1}`, `{o-42: 1}`, false, nil},
		{"literal ${", `cost: $${id} is ${id}`, `cost: ${id} is o-42`, false, nil},
		{"lone dollar", `$5 for ${id}$`, `$5 for o-42$`, false, nil},
		{"no placeholders", `{"fixed": true}`, `{"fixed": true}`, true, nil},
		{"empty template", ``, ``, false, nil},
		{"text data in JSON", `{"d": ${data}, "s": "${data}"}`, `{"d": "line \"1\"\n", "s": "line \"1\"\n"}`, true, text},
		{"binary data in JSON", `{"b": ${b64}, "d": ${data}}`, `{"b": "AAEC", "d": null}`, true, binary},
		{"data paths on text data are missing", `{"q": ${qty}, "n": ${name}, "s": "${subject}"}`, `{"q": null, "n": null, "s": ""}`, true, text},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := c.ev
			if ev == nil {
				ev = orderEvent()
			}
			tm, err := template.Compile(template.Tmpl, vars, c.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			got := render(t, tm, ev)
			if got != c.want {
				t.Errorf("render\n got %s\nwant %s", got, c.want)
			}
			if tm.JSON() != c.json {
				t.Errorf("JSON() = %v, want %v", tm.JSON(), c.json)
			}
			if c.json && !json.Valid([]byte(got)) {
				t.Errorf("JSON template rendered invalid JSON: %s", got)
			}
		})
	}
}

func TestTemplateWholeEventInJSON(t *testing.T) {
	t.Parallel()
	tm := template.MustCompile(template.Tmpl, vars, `{"event": ${event}, "text": "${event}"}`)
	out := render(t, tm, orderEvent())
	var got struct {
		Event api.Event
		Text  string
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var inner api.Event
	if err := json.Unmarshal([]byte(got.Text), &inner); err != nil {
		t.Fatalf("the escaped event is not the event: %v", err)
	}
	if got.Event.ID != "e-1" || inner.ID != "e-1" || !reflect.DeepEqual(got.Event.Data, inner.Data) {
		t.Errorf("got %+v and %+v", got.Event, inner)
	}
}

// TestTemplateEscaping checks that any string, from data or an attribute,
// keeps a JSON template valid and comes back unchanged.
func TestTemplateEscaping(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		`"`, `\`, `\"`, "\x00\x01\x1f", "\n\r\t\b\f", "é中文🙂", "\u2028\u2029", "</script>", `${id}`, "bad \xff utf8",
	} {
		data, _ := json.Marshal(map[string]string{"s": s})
		ev := &api.Event{ID: "1", Source: "s", Type: "t", Subject: s, Data: data}
		tm := template.MustCompile(template.Tmpl, `{"d": "$.data.s", "a": "$.subject"}`,
			`{"d": ${d}, "ds": "<${d}>", "a": ${a}, "as": "<${a}>"}`)
		out := render(t, tm, ev)
		var got map[string]string
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%q: invalid JSON %s: %v", s, out, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if got["d"] != want || got["a"] != want || got["ds"] != "<"+want+">" || got["as"] != "<"+want+">" {
			t.Errorf("%q: got %q", s, got)
		}
		// And as plain text, the string itself.
		txt := template.MustCompile(template.JSONPath, "$.data.s", "")
		if got := render(t, txt, ev); got != want {
			t.Errorf("%q: JSONPATH text %q", s, got)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, form, value, tmpl, want string }{
		{"unknown form", "XML", "", "", `template: bad form: unknown form "XML"`},
		{"lower-case form", "jsonpath", "$.id", "", `unknown form "jsonpath"`},
		{"ORIGINAL with a value", template.Original, "$.id", "", "takes no value"},
		{"template text without TEMPLATE", template.Constant, "x", "${a}", "only with form TEMPLATE"},
		{"JSONPATH without a path", template.JSONPath, "", "", "needs a JSONPath"},
		{"JSONPATH without $", template.JSONPath, "data.id", "", `"data.id" must start with $`},
		{"bad JSONPath", template.JSONPath, "$.data[", "", `invalid JSONPath "$.data["`},
		{"bad filter", template.JSONPath, "$.data[?(@.a ==)]", "", `invalid JSONPath`},
		{"variables not JSON", template.Tmpl, `{id: "$.id"}`, "${id}", "must be a JSON object"},
		{"variables an array", template.Tmpl, `["$.id"]`, "${id}", "must be a JSON object"},
		{"variable not a string", template.Tmpl, `{"n": 1}`, "${n}", `variable "n": its value must be a JSONPath string`},
		{"variable bad path", template.Tmpl, `{"a": "$.id", "b": "$..["}`, "${a}", `template: bad value: variable "b": invalid JSONPath`},
		{"variable without $", template.Tmpl, `{"a": "id"}`, "${a}", `variable "a": JSONPath "id" must start with $`},
		{"variable bad name", template.Tmpl, `{"a b": "$.id"}`, "", `variable "a b": names use`},
		{"undefined placeholder", template.Tmpl, `{"a": "$.id"}`, `{"x": ${a}, "y": ${b}}`, "template: bad template: ${b} has no variable; defined: a"},
		{"unterminated placeholder", template.Tmpl, `{"a": "$.id"}`, `x ${a`, "unterminated placeholder at offset 2"},
		{"bad placeholder", template.Tmpl, `{"a": "$.id"}`, `${a b}`, "bad placeholder ${a b}"},
		{"empty placeholder", template.Tmpl, `{}`, `${}`, "bad placeholder ${}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := template.Compile(c.form, c.value, c.tmpl)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestRenderBadData(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, path, data string }{
		{"truncated", "$.data.a.b", `{"a": {"b": `},
		{"bad value found", "$.data.a", `{"a": tru}`},
		{"bad string found", "$.data.a", "{\"a\": \"x\x01\"}"},
		{"bad escape found", "$.data.a", `{"a": "\x"}`},
		{"bad number found", "$.data.a", `{"a": 01}`},
		{"bad object found", "$.data.a", `{"a": {"b" 1}}`},
		{"trailing garbage", "$.data.z", `{"a": 1} x`},
		{"not JSON", "$.data.a", `hello`},
		{"library", "$.data..a", `{"a": `},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tm := template.MustCompile(template.JSONPath, c.path, "")
			ev := &api.Event{ID: "1", Source: "s", Type: "t", Data: []byte(c.data)}
			if _, err := tm.Render(ev, nil); !errors.Is(err, template.ErrData) {
				t.Fatalf("err = %v, want ErrData", err)
			}
		})
	}
	// Bytes after the last value needed are not read.
	tm := template.MustCompile(template.JSONPath, "$.data.a", "")
	ev := &api.Event{ID: "1", Source: "s", Type: "t", Data: []byte(`{"a": 1, "b": `)}
	if out, err := tm.Render(ev, nil); err != nil || string(out) != "1" {
		t.Fatalf("early stop: %q, %v", out, err)
	}
}

func TestRenderAppends(t *testing.T) {
	t.Parallel()
	tm := template.MustCompile(template.JSONPath, "$.id", "")
	out, err := tm.Render(orderEvent(), []byte("prefix:"))
	if err != nil || string(out) != "prefix:e-1" {
		t.Fatalf("%q, %v", out, err)
	}
}

func TestManyVariables(t *testing.T) {
	t.Parallel()
	// More values than fit the render's stack arrays.
	var vs, tm []string
	for i := 0; i < 40; i++ {
		n := string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		vs = append(vs, `"`+n+`": "$.data.v[`+string(rune('0'+i%10))+`]"`)
		tm = append(tm, "${"+n+"}")
	}
	tpl := template.MustCompile(template.Tmpl, "{"+strings.Join(vs, ",")+"}", "["+strings.Join(tm, ",")+"]")
	ev := &api.Event{ID: "1", Source: "s", Type: "t", Data: []byte(`{"v": [0,1,2,3,4,5,6,7,8,9]}`)}
	out := render(t, tpl, ev)
	var got []int
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 40 || got[39] != 9 || got[10] != 0 {
		t.Fatalf("%s: %v", out, err)
	}
}

func TestCompileErrorNamesTheField(t *testing.T) {
	t.Parallel()
	cases := []struct{ form, value, tmpl, field string }{
		{"XML", "", "", "form"},
		{template.JSONPath, "$.[", "", "value"},
		{template.Original, "x", "", "value"},
		{template.Tmpl, `{"a": 1}`, "${a}", "value"},
		{template.Tmpl, `{"a": "$.id"}`, "${b}", "template"},
		{template.Tmpl, `{"a": "$.id"}`, "${a", "template"},
		{template.Constant, "x", "y", "template"},
	}
	for _, c := range cases {
		_, err := template.Compile(c.form, c.value, c.tmpl)
		var te *template.Error
		if !errors.As(err, &te) || te.Field != c.field {
			t.Errorf("Compile(%q, %q, %q) = %v, want an *Error on %s", c.form, c.value, c.tmpl, err, c.field)
		}
	}
}

// TestAlibabaPlaceholders covers the template text as Alibaba's engine
// (commons-text's StringSubstitutor) reads it, and that the aws dialect
// still rejects what it always rejected.
func TestAlibabaPlaceholders(t *testing.T) {
	t.Parallel()
	ev := &api.Event{ID: "e-1", Source: "s", Type: "t", DataContentType: "application/json",
		Data: []byte(`{"a": "x", "n": null, "q": 3}`)}
	cases := []struct {
		name, vars, tmpl, want string
		json                   bool // JSON() in the alibaba dialect
	}{
		{"default in value position", `{"q": "$.data.none"}`, `{"n": ${q:-0}}`, `{"n": 0}`, true},
		{"default unused", `{"q": "$.data.q"}`, `{"n": ${q:-0}}`, `{"n": 3}`, true},
		{"null is not missing", `{"q": "$.data.n"}`, `{"n": ${q:-0}, "s": "${q:-z}"}`, `{"n": null, "s": "null"}`, true},
		{"default in a string", `{"a": "$.data.none"}`, `{"s": "id-${a:-none}"}`, `{"s": "id-none"}`, true},
		{"default with no variable", `{}`, `{"s": "${zone:-cn}"}`, `{"s": "cn"}`, true},
		{"empty default", `{"a": "$.data.none"}`, `[${a:-}]`, `[]`, false},
		{"default not JSON: the template is text", `{"a": "$.data.a", "b": "$.data.none"}`, `{"a": ${a}, "b": ${b:-none}}`, `{"a": x, "b": none}`, false},
		{"undefined placeholder: the whole template is text", `{"a": "$.data.a"}`, `{"a": ${a}, "b": ${b}}`, `{"a": x, "b": ${b}}`, false},
		{"default splits at the first :-", `{"a": "$.data.none"}`, `${a:-b:-c}`, `b:-c`, false},
		{"unterminated", `{"a": "$.data.a"}`, `${a} ${a`, `x ${a`, false},
		{"escape before a whole placeholder", `{"a": "$.data.a"}`, `$${a} ${a}`, `${a} x`, false},
		{"unterminated escape kept", `{"a": "$.data.a"}`, `${a} $${a`, `x $${a`, false},
		{"any name", `{"a b": "$.data.a", "": "$.data.q"}`, `${a b}/${}/${c d}`, `x/3/${c d}`, false},
		{"a kept placeholder that would break a JSON string", `{"a": "$.data.a"}`, `{"s": "${b"c}", "a": ${a}}`, `{"s": "${b"c}", "a": x}`, false},
		{"a kept placeholder inside a JSON string", `{"a": "$.data.a"}`, `{"s": "${b}", "a": ${a}}`, `{"s": "${b}", "a": "x"}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tm, err := template.CompileDialect(template.Tmpl, c.vars, c.tmpl, pattern.Alibaba)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tm.Render(ev, nil)
			if err != nil || string(out) != c.want {
				t.Fatalf("Render = %q, %v; want %q", out, err, c.want)
			}
			if tm.JSON() != c.json {
				t.Errorf("JSON() = %v, want %v", tm.JSON(), c.json)
			}
			if c.json && !json.Valid(out) {
				t.Errorf("JSON() but %s is not JSON", out)
			}
			if _, err := template.CompileDialect(template.Tmpl, c.vars, c.tmpl, pattern.AWS); err == nil && strings.Contains(c.tmpl, ":-") {
				t.Errorf("the aws dialect accepted %s", c.tmpl)
			}
		})
	}
}
