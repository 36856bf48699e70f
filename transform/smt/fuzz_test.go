package smt_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/smt"
)

var fuzzSeeds = []string{
	`{"a":{"b":{"c":1}},"d":[1,{"e":2}],"f":{},"g":"x","h":null}`,
	`{"n":12345678901234567890,"f":-1.5e-300,"s":"\u00e9\"\\","b":true}`,
	`{"a.b":1,"a":{"b":2}}`,
	`[1,2]`, `"str"`, `null`, ``, `{`, `{"a":1} 2`,
}

// fuzzApply runs one configured SMT on data and checks the invariants every
// SMT keeps: no panic, a failure is a fatal record error, and a kept
// record's data is valid JSON whenever the input was.
func fuzzApply(t *testing.T, p api.TransformPlugin, raw map[string]string, data string) (api.Record, bool) {
	c, err := p.Spec.Parse(raw)
	if err != nil {
		return api.Record{}, false
	}
	tr, err := p.New(c)
	if err != nil {
		return api.Record{}, false
	}
	r := api.Record{Event: api.Event{Data: []byte(data)}}
	keep, err := tr.Apply(&r)
	if err != nil {
		if !api.IsFatal(err) {
			t.Fatalf("error is not fatal: %v", err)
		}
		return r, false
	}
	if keep && json.Valid([]byte(data)) && len(r.Event.Data) > 0 && !json.Valid(r.Event.Data) {
		t.Fatalf("invalid JSON out of %q: %q", data, r.Event.Data)
	}
	if len(r.Key) > 0 && !json.Valid(r.Key) {
		t.Fatalf("invalid JSON key out of %q: %q", data, r.Key)
	}
	return r, keep
}

func FuzzFlatten(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, ".")
		f.Add(s, "_")
	}
	f.Fuzz(func(t *testing.T, data, delim string) {
		r, ok := fuzzApply(t, smt.Flatten, map[string]string{"delimiter": delim}, data)
		if d := bytes.TrimSpace(r.Event.Data); !ok || len(d) == 0 || string(d) == "null" {
			return
		}
		var out map[string]any
		dec := json.NewDecoder(bytes.NewReader(r.Event.Data))
		dec.UseNumber() // 1E700 is valid JSON but no float64
		if err := dec.Decode(&out); err != nil {
			t.Fatalf("flatten output is not an object: %s", r.Event.Data)
		}
		for k, v := range out {
			if m, nested := v.(map[string]any); nested && len(m) > 0 {
				t.Fatalf("field %q still nested: %s", k, r.Event.Data)
			}
		}
	})
}

func FuzzCast(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "a:int64,n:string,f:float32,s:boolean,b:int8")
		f.Add(s, "string")
	}
	f.Add(`{"x":"9223372036854775808"}`, "x:int64")
	f.Add(`{"x":"-1e308"}`, "x:int16,y:float64")
	f.Fuzz(func(t *testing.T, data, spec string) {
		fuzzApply(t, smt.Cast, map[string]string{"spec": spec}, data)
	})
}

func FuzzReplaceField(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "a,n", "b", "a:z,g:a")
	}
	f.Fuzz(func(t *testing.T, data, include, exclude, renames string) {
		fuzzApply(t, smt.ReplaceField, map[string]string{"include": include, "exclude": exclude, "renames": renames}, data)
	})
}

func FuzzJavaFormat(f *testing.F) {
	for _, s := range []string{"yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "EEE, d MMM yy h:mm a z", "''yyyy''", "'a''b'", "S", "X"} {
		f.Add(s, `{"t":"2026-11-23T08:09:10Z"}`)
	}
	f.Fuzz(func(t *testing.T, format, data string) {
		// An accepted format formats, and its output goes back through the
		// parser without a panic (not every format reads back: "h" has no
		// AM/PM, "EEE" alone has no date).
		if r, ok := fuzzApply(t, smt.TimestampConverter, map[string]string{"target.type": "string", "format": format}, `1795421350123`); ok {
			fuzzApply(t, smt.TimestampConverter, map[string]string{"target.type": "Timestamp", "format": format}, string(r.Event.Data))
		}
		fuzzApply(t, smt.TimestampConverter, map[string]string{"field": "t", "target.type": "unix", "format": format}, data)
	})
}

// FuzzEverySMT runs each SMT, configured to reach into nested fields, on
// random data: no panic, only fatal record errors, valid JSON out.
func FuzzEverySMT(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Add(`{"before":{"a":1},"after":null,"op":"d","source":{"table":"t"}}`)
	f.Add(`{"before":null,"after":{"a":{"b":"2026-11-23T08:09:10Z"}},"op":"c"}`)
	configs := []struct {
		p   api.TransformPlugin
		raw map[string]string
	}{
		{smt.InsertField, map[string]string{"static.field": "a.b", "static.value": `{"x":[1]}`, "static.type": "json", "id.field": "a"}},
		{smt.MaskField, map[string]string{"fields": "a,a.b,after.a.b,n,s"}},
		{smt.MaskField, map[string]string{"fields": "a.b,n", "replacement": "7"}},
		{smt.ExtractField, map[string]string{"field": "a.b", "on.missing": "null"}},
		{smt.HoistField, map[string]string{"field": "h"}},
		{smt.TimestampConverter, map[string]string{"field": "after.a.b", "target.type": "Date"}},
		{smt.TimestampConverter, map[string]string{"target.type": "string", "format": "yyyy-MM-dd'T'HH:mm:ssXXX"}},
		{smt.ValueToKey, map[string]string{"fields": "a,a.b"}},
		{smt.SetExtension, map[string]string{"name": "x", "field": "a.b"}},
		{smt.Unwrap, map[string]string{"delete.handling.mode": "rewrite", "add.fields": "op,table,source.ts_ms", "add.headers": "op,a.b"}},
		{smt.Unwrap, map[string]string{}},
	}
	f.Fuzz(func(t *testing.T, data string) {
		for _, c := range configs {
			fuzzApply(t, c.p, c.raw, data)
		}
	})
}
