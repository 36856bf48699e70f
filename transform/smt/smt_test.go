package smt_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/smt"
)

// noData marks a record without data (a tombstone) in a case's in/want.
const noData = "<none>"

type tcase struct {
	name string
	cfg  map[string]string
	in   string // the event's data, or noData
	ct   string // datacontenttype
	want string // the data afterwards, or noData; ignored on error or drop
	drop bool
	err  string // substring of the expected record error
	// check, when set, inspects the record afterwards.
	check func(t *testing.T, r *api.Record)
}

func record(data, ct string) api.Record {
	r := api.Record{
		Event: api.Event{ID: "e-1", Source: "acs.rds", Type: "order.created", Subject: "orders",
			Time: time.Date(2026, 11, 23, 8, 0, 0, 500, time.UTC), DataContentType: ct,
			Extensions: map[string]any{"region": "cn-hangzhou", "retries": int64(2)}},
		Partition: "binlog.000001", Position: api.Position("4711"),
	}
	if data != noData {
		r.Event.Data = []byte(data)
	}
	return r
}

func newTransform(t *testing.T, p api.TransformPlugin, cfg map[string]string) (api.Transform, error) {
	t.Helper()
	c, err := p.Spec.Parse(cfg)
	if err != nil {
		return nil, err
	}
	return p.New(c)
}

func runCases(t *testing.T, p api.TransformPlugin, cases []tcase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr, err := newTransform(t, p, tc.cfg)
			if err != nil {
				t.Fatalf("config: %v", err)
			}
			r := record(tc.in, tc.ct)
			keep, err := tr.Apply(&r)
			if tc.err != "" {
				if err == nil || !api.IsFatal(err) || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), p.Name+": ") {
					t.Fatalf("err = %v, want a fatal error from %s containing %q", err, p.Name, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if keep == tc.drop {
				t.Fatalf("keep = %v, want %v", keep, !tc.drop)
			}
			if !tc.drop {
				got := string(r.Event.Data)
				if r.Event.Data == nil {
					got = noData
				}
				if got != tc.want {
					t.Errorf("data = %s\nwant   %s", got, tc.want)
				}
				if json.Valid([]byte(tc.in)) && !json.Valid(r.Event.Data) {
					t.Errorf("output is not valid JSON: %s", got)
				}
			}
			if tc.check != nil {
				tc.check(t, &r)
			}
		})
	}
}

func cfg(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// Common edge cases every data-object SMT shares.
func commonCases(c map[string]string) []tcase {
	return []tcase{
		{name: "tombstone passes", cfg: c, in: noData, want: noData},
		{name: "null passes", cfg: c, in: `null`, want: `null`},
		{name: "bad JSON", cfg: c, in: `{"a":`, err: "data is not JSON"},
		{name: "trailing garbage", cfg: c, in: `{"a":1} x`, err: "data is not JSON"},
		{name: "non-JSON content type", cfg: c, in: `a,b`, ct: "text/csv", err: `datacontenttype is "text/csv"`},
	}
}

func TestInsertField(t *testing.T) {
	t.Parallel()
	all := cfg("static.field", "env", "static.value", "prod", "id.field", "id", "type.field", "type", "source.field", "src",
		"subject.field", "topic", "time.field", "ts", "partition.field", "part", "position.field", "offset")
	runCases(t, smt.InsertField, append(commonCases(cfg("static.field", "f", "static.value", "v")), []tcase{
		{name: "every attribute", cfg: all, in: `{"n":12345678901234567890}`,
			want: `{"n":12345678901234567890,"env":"prod","id":"e-1","type":"order.created","src":"acs.rds","topic":"orders","ts":"2026-11-23T08:00:00.0000005Z","part":"binlog.000001","offset":"4711"}`},
		{name: "static json", cfg: cfg("static.field", "v", "static.value", `{"x":[1,2.50]}`, "static.type", "json"), in: `{}`, want: `{"v":{"x":[1,2.50]}}`},
		{name: "overwrites", cfg: cfg("id.field", "a"), in: `{"a":1}`, want: `{"a":"e-1"}`},
		{name: "html kept", cfg: cfg("static.field", "s", "static.value", "<a&b>"), in: `{}`, want: `{"s":"<a&b>"}`},
		{name: "array data", cfg: cfg("id.field", "a"), in: `[1]`, err: "not a JSON object (got array)"},
		{name: "scalar data", cfg: cfg("id.field", "a"), in: `"x"`, err: "not a JSON object (got string)"},
	}...))
}

func TestInsertFieldBinaryPositionAndEmptyAttributes(t *testing.T) {
	t.Parallel()
	tr, err := newTransform(t, smt.InsertField, cfg("position.field", "p", "subject.field", "s", "time.field", "t"))
	if err != nil {
		t.Fatal(err)
	}
	r := api.Record{Event: api.Event{Data: []byte(`{}`)}, Position: api.Position{0xff, 0x00}}
	if _, err := tr.Apply(&r); err != nil {
		t.Fatal(err)
	}
	if got := string(r.Event.Data); got != `{"s":null,"t":null,"p":"/wA="}` {
		t.Errorf("data = %s", got)
	}
}

func TestReplaceField(t *testing.T) {
	t.Parallel()
	in := `{"a":1,"b":{"c":2},"d":"x","e":null}`
	runCases(t, smt.ReplaceField, append(commonCases(cfg("exclude", "a")), []tcase{
		{name: "include", cfg: cfg("include", "a,d"), in: in, want: `{"a":1,"d":"x"}`},
		{name: "exclude", cfg: cfg("exclude", "b,missing"), in: in, want: `{"a":1,"d":"x","e":null}`},
		{name: "exclude wins over include", cfg: cfg("include", "a,b", "exclude", "b"), in: in, want: `{"a":1}`},
		{name: "rename", cfg: cfg("renames", "a:alpha, b:beta"), in: in, want: `{"alpha":1,"beta":{"c":2},"d":"x","e":null}`},
		{name: "rename onto kept field wins", cfg: cfg("renames", "a:d"), in: in, want: `{"d":1,"b":{"c":2},"e":null}`},
		{name: "swap", cfg: cfg("renames", "a:d,d:a"), in: in, want: `{"d":1,"b":{"c":2},"a":"x","e":null}`},
		{name: "rename of excluded", cfg: cfg("exclude", "a", "renames", "a:z"), in: in, want: `{"b":{"c":2},"d":"x","e":null}`},
		{name: "include uses old names", cfg: cfg("include", "a", "renames", "a:z"), in: in, want: `{"z":1}`},
		{name: "big numbers exact", cfg: cfg("include", "n"), in: `{"n":-98765432109876543210.000000001,"m":1}`, want: `{"n":-98765432109876543210.000000001}`},
		{name: "array data", cfg: cfg("include", "a"), in: `[]`, err: "not a JSON object"},
	}...))
}

func TestMaskField(t *testing.T) {
	t.Parallel()
	in := `{"s":"secret","n":42,"f":1.5,"b":true,"o":{"x":1},"a":[1],"z":null,"nested":{"phone":"123"}}`
	runCases(t, smt.MaskField, append(commonCases(cfg("fields", "s")), []tcase{
		{name: "defaults by type", cfg: cfg("fields", "s,n,f,b,o,a,z,nested.phone,missing"), in: in,
			want: `{"s":"","n":0,"f":0,"b":false,"o":{},"a":[],"z":null,"nested":{"phone":""}}`},
		{name: "replacement string", cfg: cfg("fields", "s,nested.phone", "replacement", "***"), in: in,
			want: `{"s":"***","n":42,"f":1.5,"b":true,"o":{"x":1},"a":[1],"z":null,"nested":{"phone":"***"}}`},
		{name: "replacement number", cfg: cfg("fields", "n", "replacement", "-1"), in: `{"n":5}`, want: `{"n":-1}`},
		{name: "replacement bool", cfg: cfg("fields", "b", "replacement", "false"), in: `{"b":true}`, want: `{"b":false}`},
		{name: "empty replacement", cfg: cfg("fields", "s", "replacement", ""), in: `{"s":"x"}`, want: `{"s":""}`},
		{name: "replacement not a number", cfg: cfg("fields", "n", "replacement", "***"), in: `{"n":5}`, err: `field "n": cannot convert value: replacement "***" is not a number`},
		{name: "replacement on object", cfg: cfg("fields", "o", "replacement", "x"), in: `{"o":{}}`, err: `field "o"`},
		{name: "masked field absent stays absent", cfg: cfg("fields", "q"), in: `{"a":1}`, want: `{"a":1}`},
		{name: "path through array not followed", cfg: cfg("fields", "a.x"), in: `{"a":[{"x":1}]}`, want: `{"a":[{"x":1}]}`},
	}...))
}

func TestExtractField(t *testing.T) {
	t.Parallel()
	in := `{"after":{"id":18446744073709551615,"name":"x"},"op":"c","a.b":7}`
	runCases(t, smt.ExtractField, append(commonCases(cfg("field", "after")), []tcase{
		{name: "object", cfg: cfg("field", "after"), in: in, want: `{"id":18446744073709551615,"name":"x"}`},
		{name: "nested", cfg: cfg("field", "after.id"), in: in, want: `18446744073709551615`},
		{name: "dotted key whole", cfg: cfg("field", "a.b"), in: in, want: `7`},
		{name: "string", cfg: cfg("field", "op"), in: in, want: `"c"`},
		{name: "null value", cfg: cfg("field", "x"), in: `{"x":null}`, want: `null`},
		{name: "missing fails", cfg: cfg("field", "nope"), in: in, err: `field "nope": field is missing`},
		{name: "missing nested fails", cfg: cfg("field", "after.nope"), in: in, err: "field is missing"},
		{name: "missing null", cfg: cfg("field", "nope", "on.missing", "null"), in: in, want: `null`},
		{name: "missing skip", cfg: cfg("field", "nope", "on.missing", "skip"), in: in, want: in},
		{name: "array data", cfg: cfg("field", "a"), in: `[1]`, err: "not a JSON object"},
	}...))
}

func TestHoistField(t *testing.T) {
	t.Parallel()
	runCases(t, smt.HoistField, []tcase{
		{name: "object", cfg: cfg("field", "v"), in: `{"a":1}`, want: `{"v":{"a":1}}`},
		{name: "scalar", cfg: cfg("field", "v"), in: ` 12345678901234567890 `, want: `{"v":12345678901234567890}`},
		{name: "array", cfg: cfg("field", "v"), in: `[1,"x"]`, want: `{"v":[1,"x"]}`},
		{name: "null wrapped", cfg: cfg("field", "v"), in: `null`, want: `{"v":null}`},
		{name: "tombstone wrapped", cfg: cfg("field", "v"), in: noData, want: `{"v":null}`},
		{name: "bad JSON", cfg: cfg("field", "v"), in: `{`, err: "data is not JSON"},
	})
}

func TestFlatten(t *testing.T) {
	t.Parallel()
	in := `{"a":{"b":{"c":1},"d":[{"e":2}]},"f":{},"g":"x","h":null}`
	runCases(t, smt.Flatten, append(commonCases(cfg()), []tcase{
		{name: "default delimiter", cfg: cfg(), in: in, want: `{"a.b.c":1,"a.d":[{"e":2}],"f":{},"g":"x","h":null}`},
		{name: "custom delimiter", cfg: cfg("delimiter", "_"), in: in, want: `{"a_b_c":1,"a_d":[{"e":2}],"f":{},"g":"x","h":null}`},
		{name: "already flat", cfg: cfg(), in: `{"a":1}`, want: `{"a":1}`},
		{name: "conflict", cfg: cfg(), in: `{"a.b":1,"a":{"b":2}}`, err: `more than one field flattens to "a.b"`},
		{name: "array data", cfg: cfg(), in: `[{"a":{"b":1}}]`, err: "not a JSON object"},
	}...))
}

func TestCast(t *testing.T) {
	t.Parallel()
	in := `{"i":"42","f":"1.25","b":"true","n":7,"d":3.99,"s":12345678901234567890,"t":true,"o":{"x":[1]},"z":null,"nested":{"v":"9"}}`
	runCases(t, smt.Cast, append(commonCases(cfg("spec", "a:int64")), []tcase{
		{name: "fields", cfg: cfg("spec", "i:int64,f:float64,b:boolean,n:string,d:int32,s:string,t:int8,o:string,z:int64,nested.v:int16,missing:int64"), in: in,
			want: `{"i":42,"f":1.25,"b":true,"n":"7","d":3,"s":"12345678901234567890","t":1,"o":"{\"x\":[1]}","z":null,"nested":{"v":9}}`},
		{name: "number to boolean", cfg: cfg("spec", "n:boolean,z:boolean"), in: `{"n":0.0,"z":-3}`, want: `{"n":false,"z":true}`},
		{name: "float32", cfg: cfg("spec", "f:float32"), in: `{"f":0.1}`, want: `{"f":0.1}`},
		{name: "bool to float", cfg: cfg("spec", "t:float64"), in: `{"t":true}`, want: `{"t":1}`},
		{name: "negative truncates toward zero", cfg: cfg("spec", "d:int64"), in: `{"d":-3.99}`, want: `{"d":-3}`},
		{name: "int64 limits", cfg: cfg("spec", "a:int64,b:int64"), in: `{"a":9223372036854775807,"b":"-9223372036854775808"}`, want: `{"a":9223372036854775807,"b":-9223372036854775808}`},
		{name: "int64 overflow", cfg: cfg("spec", "s:int64"), in: in, err: `field "s": cannot convert value: "12345678901234567890" to int64: overflows int64`},
		{name: "int8 overflow", cfg: cfg("spec", "n:int8"), in: `{"n":128}`, err: "128 overflows int8"},
		{name: "int8 min", cfg: cfg("spec", "n:int8"), in: `{"n":-128}`, want: `{"n":-128}`},
		{name: "string not a number", cfg: cfg("spec", "g:int32"), in: `{"g":"abc"}`, err: `field "g"`},
		{name: "string not a boolean", cfg: cfg("spec", "g:boolean"), in: `{"g":"yes"}`, err: `"yes" to boolean`},
		{name: "NaN refused", cfg: cfg("spec", "g:float64"), in: `{"g":"NaN"}`, err: "to float64"},
		{name: "float overflow", cfg: cfg("spec", "g:float32"), in: `{"g":1e300}`, err: "to float32"},
		{name: "object to int", cfg: cfg("spec", "o:int64"), in: in, err: "object to int64"},
		{name: "whole data", cfg: cfg("spec", "int64"), in: `"17"`, want: `17`},
		{name: "whole data string", cfg: cfg("spec", "string"), in: `12.50`, want: `"12.50"`},
		{name: "whole data object to string", cfg: cfg("spec", "string"), in: `{"a":"<"}`, want: `"{\"a\":\"<\"}"`},
		{name: "array data with fields", cfg: cfg("spec", "a:int64"), in: `[1]`, err: "not a JSON object"},
	}...))
}

func TestTimestampConverter(t *testing.T) {
	t.Parallel()
	// 2026-11-23T08:09:10.123Z
	const ms = "1795421350123"
	runCases(t, smt.TimestampConverter, append(commonCases(cfg("target.type", "unix")), []tcase{
		{name: "string to unix ms", cfg: cfg("field", "t", "target.type", "unix"), in: `{"t":"2026-11-23T08:09:10.123Z"}`, want: `{"t":` + ms + `}`},
		{name: "string to unix s", cfg: cfg("field", "t", "target.type", "unix", "unix.precision", "seconds"), in: `{"t":"2026-11-23T16:09:10.9+08:00"}`, want: `{"t":1795421350}`},
		{name: "unix ms to string", cfg: cfg("field", "t", "target.type", "string"), in: `{"t":` + ms + `}`, want: `{"t":"2026-11-23T08:09:10.123Z"}`},
		{name: "unix us to Timestamp", cfg: cfg("field", "t", "target.type", "Timestamp", "unix.precision", "microseconds"), in: `{"t":` + ms + `456}`, want: `{"t":` + ms + `}`},
		{name: "unix ns to unix ns", cfg: cfg("field", "t", "target.type", "unix", "unix.precision", "nanoseconds"), in: `{"t":1795421350123456789}`, want: `{"t":1795421350123456789}`},
		{name: "decimal seconds", cfg: cfg("field", "t", "target.type", "Timestamp", "unix.precision", "seconds"), in: `{"t":1795421350.123}`, want: `{"t":` + ms + `}`},
		{name: "java format out", cfg: cfg("field", "t", "target.type", "string", "format", "yyyy-MM-dd HH:mm:ss.SSS"), in: `{"t":` + ms + `}`, want: `{"t":"2026-11-23 08:09:10.123"}`},
		{name: "java format in", cfg: cfg("field", "t", "target.type", "Timestamp", "format", "dd/MM/yyyy'T'HH:mm"), in: `{"t":"23/11/2026T08:09"}`, want: `{"t":1795421340000}`},
		{name: "java format names and zone", cfg: cfg("field", "t", "target.type", "string", "format", "EEE, d MMM yy h:mm a XXX"), in: `{"t":` + ms + `}`, want: `{"t":"Mon, 23 Nov 26 8:09 AM Z"}`},
		{name: "go layout", cfg: cfg("field", "t", "target.type", "string", "layout", "2006/01/02"), in: `{"t":` + ms + `}`, want: `{"t":"2026/11/23"}`},
		{name: "Date", cfg: cfg("field", "t", "target.type", "Date"), in: `{"t":` + ms + `}`, want: `{"t":1795392000000}`},
		{name: "Time", cfg: cfg("field", "t", "target.type", "Time"), in: `{"t":` + ms + `}`, want: `{"t":29350123}`},
		{name: "nested", cfg: cfg("field", "after.t", "target.type", "unix"), in: `{"after":{"t":"2026-11-23T08:09:10.123Z"}}`, want: `{"after":{"t":` + ms + `}}`},
		{name: "whole data", cfg: cfg("target.type", "string"), in: ms, want: `"2026-11-23T08:09:10.123Z"`},
		{name: "null value stays", cfg: cfg("field", "t", "target.type", "unix"), in: `{"t":null}`, want: `{"t":null}`},
		{name: "missing field", cfg: cfg("field", "t", "target.type", "unix"), in: `{}`, err: `field "t": field is missing`},
		{name: "bad string", cfg: cfg("field", "t", "target.type", "unix"), in: `{"t":"yesterday"}`, err: `"yesterday" does not match the format`},
		{name: "boolean", cfg: cfg("field", "t", "target.type", "unix"), in: `{"t":true}`, err: "a boolean is not a timestamp"},
	}...))
}

func TestValueToKey(t *testing.T) {
	t.Parallel()
	key := func(want string) func(*testing.T, *api.Record) {
		return func(t *testing.T, r *api.Record) {
			if string(r.Key) != want {
				t.Errorf("key = %s, want %s", r.Key, want)
			}
		}
	}
	in := `{"z":1,"a":{"b":"x<"},"big":12345678901234567890}`
	runCases(t, smt.ValueToKey, []tcase{
		{name: "configured order", cfg: cfg("fields", "z,a.b,big"), in: in, want: in, check: key(`{"z":1,"a.b":"x<","big":12345678901234567890}`)},
		{name: "object value", cfg: cfg("fields", "a"), in: in, want: in, check: key(`{"a":{"b":"x<"}}`)},
		{name: "missing", cfg: cfg("fields", "z,q"), in: in, err: `field "q": field is missing`},
		{name: "tombstone keeps key", cfg: cfg("fields", "z"), in: noData, want: noData, check: key(``)},
		{name: "array data", cfg: cfg("fields", "z"), in: `[]`, err: "not a JSON object"},
	})
}

func TestSetExtension(t *testing.T) {
	t.Parallel()
	ext := func(name string, want any) func(*testing.T, *api.Record) {
		return func(t *testing.T, r *api.Record) {
			got, ok := r.Event.Extensions[name]
			if want == nil {
				if ok {
					t.Errorf("extension %s = %#v, want absent", name, got)
				}
				return
			}
			if got != want {
				t.Errorf("extension %s = %#v (%T), want %#v (%T)", name, got, got, want, want)
			}
		}
	}
	in := `{"s":"x","i":-7,"f":1.5,"big":12345678901234567890,"b":true,"o":{"k":[1]},"n":null,"d":{"e":"deep"}}`
	for _, p := range []api.TransformPlugin{smt.SetExtension, smt.InsertHeader} {
		runCases(t, p, []tcase{
			{name: p.Name + " static", cfg: cfg("name", "tenant", "value", "acme"), in: `not json`, want: `not json`, check: ext("tenant", "acme")},
			{name: p.Name + " overwrite", cfg: cfg("name", "region", "value", ""), in: in, want: in, check: ext("region", "")},
			{name: p.Name + " string", cfg: cfg("name", "x", "field", "s"), in: in, want: in, check: ext("x", "x")},
			{name: p.Name + " int", cfg: cfg("name", "x", "field", "i"), in: in, want: in, check: ext("x", int64(-7))},
			{name: p.Name + " float", cfg: cfg("name", "x", "field", "f"), in: in, want: in, check: ext("x", 1.5)},
			{name: p.Name + " big int as text", cfg: cfg("name", "x", "field", "big"), in: in, want: in, check: ext("x", "12345678901234567890")},
			{name: p.Name + " bool", cfg: cfg("name", "x", "field", "b"), in: in, want: in, check: ext("x", true)},
			{name: p.Name + " object", cfg: cfg("name", "x", "field", "o"), in: in, want: in, check: ext("x", `{"k":[1]}`)},
			{name: p.Name + " nested", cfg: cfg("name", "x", "field", "d.e"), in: in, want: in, check: ext("x", "deep")},
			{name: p.Name + " null removes", cfg: cfg("name", "region", "field", "n"), in: in, want: in, check: ext("region", nil)},
			{name: p.Name + " missing", cfg: cfg("name", "x", "field", "q"), in: in, err: `field "q": field is missing`},
			{name: p.Name + " tombstone", cfg: cfg("name", "x", "field", "s"), in: noData, err: "field is missing"},
			{name: p.Name + " bad data", cfg: cfg("name", "x", "field", "s"), in: `{`, err: "data is not JSON"},
		})
	}
}

func TestDropExtension(t *testing.T) {
	t.Parallel()
	runCases(t, smt.DropExtension, []tcase{
		{name: "drops", cfg: cfg("names", "region,missing"), in: `x`, want: `x`, check: func(t *testing.T, r *api.Record) {
			if _, ok := r.Event.Extensions["region"]; ok || r.Event.Extensions["retries"] != int64(2) {
				t.Errorf("extensions = %v", r.Event.Extensions)
			}
		}},
	})
	tr, _ := newTransform(t, smt.DropExtension, cfg("names", "a"))
	r := api.Record{}
	if keep, err := tr.Apply(&r); !keep || err != nil {
		t.Errorf("no extensions: %v %v", keep, err)
	}
}

func TestRegexRouter(t *testing.T) {
	t.Parallel()
	attr := func(get func(*api.Event) any, want any) func(*testing.T, *api.Record) {
		return func(t *testing.T, r *api.Record) {
			if got := get(&r.Event); got != want {
				t.Errorf("got %#v, want %#v", got, want)
			}
		}
	}
	subject := func(e *api.Event) any { return e.Subject }
	runCases(t, smt.RegexRouter, []tcase{
		{name: "subject", cfg: cfg("regex", "ord(.*)", "replacement", "topic-$1"), in: `x`, want: `x`, check: attr(subject, "topic-ers")},
		{name: "braces", cfg: cfg("regex", "(o)rders", "replacement", "${1}_x"), in: `x`, want: `x`, check: attr(subject, "o_x")},
		{name: "whole match only", cfg: cfg("regex", "rder", "replacement", "y"), in: `x`, want: `x`, check: attr(subject, "orders")},
		{name: "named group", cfg: cfg("regex", "(?P<t>.*)s", "replacement", "db.${t}"), in: `x`, want: `x`, check: attr(subject, "db.order")},
		{name: "type", cfg: cfg("regex", `order\.(.*)`, "replacement", "o.$1", "target", "type"), in: `x`, want: `x`,
			check: attr(func(e *api.Event) any { return e.Type }, "o.created")},
		{name: "source", cfg: cfg("regex", `acs\.(.*)`, "replacement", "$1", "target", "source"), in: `x`, want: `x`,
			check: attr(func(e *api.Event) any { return e.Source }, "rds")},
		{name: "extension", cfg: cfg("regex", "cn-(.*)", "replacement", "$1", "target", "extension:region"), in: `x`, want: `x`,
			check: attr(func(e *api.Event) any { return e.Extensions["region"] }, "hangzhou")},
		{name: "extension not a string", cfg: cfg("regex", ".*", "replacement", "x", "target", "extension:retries"), in: `x`, want: `x`,
			check: attr(func(e *api.Event) any { return e.Extensions["retries"] }, int64(2))},
		{name: "extension missing", cfg: cfg("regex", ".*", "replacement", "x", "target", "extension:nope"), in: `x`, want: `x`,
			check: attr(func(e *api.Event) any { return e.Extensions["nope"] }, nil)},
	})
}

func TestDrop(t *testing.T) {
	t.Parallel()
	runCases(t, smt.Drop, []tcase{{name: "drops", cfg: cfg(), in: `{}`, drop: true}, {name: "drops bad data", cfg: cfg(), in: `{`, drop: true}})
}

func TestUnwrap(t *testing.T) {
	t.Parallel()
	create := `{"before":null,"after":{"id":1,"big":12345678901234567890},"op":"c","ts_ms":1700000000001,"source":{"db":"shop","table":"orders","ts_ms":1700000000000}}`
	update := `{"before":{"id":1,"v":"a"},"after":{"id":1,"v":"b"},"op":"u","ts_ms":5,"source":{"table":"orders"}}`
	del := `{"before":{"id":1,"v":"b"},"after":null,"op":"d","ts_ms":6,"source":{"table":"orders"}}`
	ext := func(want map[string]any) func(*testing.T, *api.Record) {
		return func(t *testing.T, r *api.Record) {
			for k, v := range want {
				if got := r.Event.Extensions[k]; got != v {
					t.Errorf("extension %s = %#v, want %#v", k, got, v)
				}
			}
		}
	}
	runCases(t, smt.Unwrap, []tcase{
		{name: "create keeps the row's bytes", cfg: cfg(), in: create, want: `{"id":1,"big":12345678901234567890}`,
			check: func(t *testing.T, r *api.Record) {
				if cap(r.Event.Data) != len(r.Event.Data) {
					t.Errorf("data shares spare capacity with the source's buffer: len %d cap %d", len(r.Event.Data), cap(r.Event.Data))
				}
			}},
		{name: "update", cfg: cfg(), in: update, want: `{"id":1,"v":"b"}`},
		{name: "snapshot read", cfg: cfg(), in: `{"before":null,"after":{"id":2},"op":"r"}`, want: `{"id":2}`},
		{name: "delete dropped", cfg: cfg(), in: del, drop: true},
		{name: "tombstone dropped", cfg: cfg(), in: noData, drop: true},
		{name: "null tombstone dropped", cfg: cfg(), in: `null`, drop: true},
		{name: "delete rewrite", cfg: cfg("delete.handling.mode", "rewrite"), in: del, want: `{"id":1,"v":"b","__deleted":"true"}`},
		{name: "update rewrite", cfg: cfg("delete.handling.mode", "rewrite"), in: update, want: `{"id":1,"v":"b","__deleted":"false"}`},
		{name: "delete none", cfg: cfg("delete.handling.mode", "none"), in: del, want: `null`},
		{name: "tombstone none dropped by default", cfg: cfg("delete.handling.mode", "none"), in: noData, drop: true},
		{name: "tombstone kept", cfg: cfg("delete.handling.mode", "none", "drop.tombstones", "false"), in: noData, want: noData},
		{name: "tombstone kept in drop mode is dropped", cfg: cfg("drop.tombstones", "false"), in: noData, drop: true},
		{name: "op inferred delete", cfg: cfg(), in: `{"before":{"id":1},"after":null}`, drop: true},
		{name: "delete without before image", cfg: cfg("delete.handling.mode", "rewrite"), in: `{"before":null,"after":null,"op":"d"}`, want: `null`},
		{name: "add fields", cfg: cfg("add.fields", "op,table,source.ts_ms,ts_ms,lsn"), in: create,
			want: `{"id":1,"big":12345678901234567890,"__op":"c","__table":"orders","__source_ts_ms":1700000000000,"__ts_ms":1700000000001,"__lsn":null}`},
		{name: "add fields prefix", cfg: cfg("add.fields", "op", "add.fields.prefix", "_", "delete.handling.mode", "rewrite"), in: del,
			want: `{"id":1,"v":"b","_op":"d","_deleted":"true"}`},
		{name: "add headers", cfg: cfg("add.headers", "op,table,source.ts_ms,db", "add.headers.prefix", "dbz"), in: create, want: `{"id":1,"big":12345678901234567890}`,
			check: ext(map[string]any{"dbzop": "c", "dbztable": "orders", "dbzsourcetsms": int64(1700000000000), "dbzdb": "shop"})},
		{name: "headers set on dropped delete too", cfg: cfg("add.headers", "op"), in: del, drop: true},
		{name: "not an envelope", cfg: cfg(), in: `{"id":1}`, want: `{"id":1}`},
		{name: "not an object", cfg: cfg(), in: `[1]`, want: `[1]`},
		{name: "after not an object with fields", cfg: cfg("add.fields", "op"), in: `{"after":5,"op":"c"}`, err: `field "after": not a JSON object`},
		{name: "after scalar", cfg: cfg(), in: `{"after":5,"op":"c"}`, want: `5`},
		{name: "bad JSON", cfg: cfg(), in: `{"after":`, err: "data is not JSON"},
	})
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		p     api.TransformPlugin
		cfg   map[string]string
		field string
		msg   string
	}{
		{"insert nothing", smt.InsertField, cfg(), "static.field", "at least one"},
		{"insert value without field", smt.InsertField, cfg("static.value", "x"), "static.field", "required"},
		{"insert field without value", smt.InsertField, cfg("static.field", "x"), "static.value", "required"},
		{"insert bad json", smt.InsertField, cfg("static.field", "x", "static.value", "{", "static.type", "json"), "static.value", "JSON"},
		{"insert bad static type", smt.InsertField, cfg("static.field", "x", "static.value", "1", "static.type", "int"), "static.type", "one of"},
		{"replace nothing", smt.ReplaceField, cfg(), "include", "at least one"},
		{"replace bad rename", smt.ReplaceField, cfg("renames", "a:b,c"), "renames", `old:new pairs, got "c"`},
		{"replace double rename", smt.ReplaceField, cfg("renames", "a:b,a:c"), "renames", "twice"},
		{"mask no fields", smt.MaskField, cfg(), "fields", "required"},
		{"extract no field", smt.ExtractField, cfg(), "field", "required"},
		{"extract bad on.missing", smt.ExtractField, cfg("field", "a", "on.missing", "x"), "on.missing", "one of"},
		{"hoist no field", smt.HoistField, cfg(), "field", "required"},
		{"flatten empty delimiter", smt.Flatten, cfg("delimiter", ""), "delimiter", "empty"},
		{"cast unknown type", smt.Cast, cfg("spec", "a:int128"), "spec", `unknown type "int128"`},
		{"cast mixed", smt.Cast, cfg("spec", "int64,a:string"), "spec", "cannot be combined"},
		{"cast empty field", smt.Cast, cfg("spec", ":string"), "spec", "empty field"},
		{"ts no target", smt.TimestampConverter, cfg(), "target.type", "required"},
		{"ts bad target", smt.TimestampConverter, cfg("target.type", "timestamp"), "target.type", "one of"},
		{"ts bad java letter", smt.TimestampConverter, cfg("target.type", "string", "format", "yyyy-ww"), "format", `"w" has no Go equivalent`},
		{"ts java literal digits", smt.TimestampConverter, cfg("target.type", "string", "format", "'1'yyyy"), "format", "literal digits"},
		{"ts java fraction", smt.TimestampConverter, cfg("target.type", "string", "format", "ssSSS"), "format", "fraction"},
		{"ts java quote", smt.TimestampConverter, cfg("target.type", "string", "format", "yyyy'T"), "format", "unterminated"},
		{"ts go layout", smt.TimestampConverter, cfg("target.type", "string", "layout", "yyyy"), "layout", "no time elements"},
		{"ts both", smt.TimestampConverter, cfg("target.type", "string", "layout", "2006", "format", "yyyy"), "layout", "not both"},
		{"ts precision", smt.TimestampConverter, cfg("target.type", "unix", "unix.precision", "ms"), "unix.precision", "one of"},
		{"key no fields", smt.ValueToKey, cfg(), "fields", "required"},
		{"ext bad name", smt.SetExtension, cfg("name", "Bad-Name", "value", "x"), "name", "extension name"},
		{"ext context attribute", smt.SetExtension, cfg("name", "subject", "value", "x"), "name", "context attribute"},
		{"ext neither", smt.SetExtension, cfg("name", "x"), "value", "set value or field"},
		{"ext both", smt.InsertHeader, cfg("name", "x", "value", "v", "field", "f"), "field", "not both"},
		{"drop ext bad", smt.DropExtension, cfg("names", "ok,No"), "names", "extension name"},
		{"router bad regex", smt.RegexRouter, cfg("regex", "(", "replacement", "x"), "regex", "missing closing )"},
		{"router no replacement", smt.RegexRouter, cfg("regex", "x"), "replacement", "required"},
		{"router bad target", smt.RegexRouter, cfg("regex", "x", "replacement", "y", "target", "topic"), "target", "must be subject"},
		{"router bad extension", smt.RegexRouter, cfg("regex", "x", "replacement", "y", "target", "extension:A"), "target", "extension name"},
		{"unwrap bad mode", smt.Unwrap, cfg("delete.handling.mode", "rewrite-with-tombstone"), "delete.handling.mode", "one of"},
		{"unwrap bad header prefix", smt.Unwrap, cfg("add.headers.prefix", "__"), "add.headers.prefix", "lower-case"},
		{"unwrap header name empty", smt.Unwrap, cfg("add.headers", "__"), "add.headers", "extension name"},
		{"unwrap bad field", smt.Unwrap, cfg("add.fields", "source."), "add.fields", "bad envelope field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := newTransform(t, tc.p, tc.cfg)
			var ve *api.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *api.ValidationError", err)
			}
			for _, f := range ve.Fields {
				if f.Field == tc.field && strings.Contains(f.Message, tc.msg) {
					return
				}
			}
			t.Errorf("err = %v, want field %s with %q", err, tc.field, tc.msg)
		})
	}
}

func TestPlugins(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, p := range smt.Plugins() {
		if p.Name == "" || p.Summary == "" || p.New == nil || seen[p.Name] {
			t.Errorf("plugin %q: incomplete or duplicate", p.Name)
		}
		seen[p.Name] = true
		for _, f := range p.Spec {
			if f.Description == "" {
				t.Errorf("%s.%s has no description", p.Name, f.Name)
			}
		}
	}
	if len(seen) != 15 {
		t.Errorf("%d plugins, want 15", len(seen))
	}
}
