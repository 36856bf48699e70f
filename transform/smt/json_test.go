package smt

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/internal/rawjson"
)

// expandAll decodes every level of v, as the deepest SMT would.
func expandAll(v any) any {
	switch x := expand(v).(type) {
	case *object:
		for i := range x.vals {
			x.vals[i] = expandAll(x.vals[i])
		}
		return x
	case []any:
		for i := range x {
			x[i] = expandAll(x[i])
		}
		return x
	default:
		return x
	}
}

func stdDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, lazy, full string }{
		{"order kept", `{"z":1,"a":2,"m":{"y":1,"b":2}}`, `{"z":1,"a":2,"m":{"y":1,"b":2}}`, ``},
		{"whitespace", " \n{ \"a\" : [ 1 , 2 ] ,\t\"b\" : { } } \r\n", `{"a":[ 1 , 2 ],"b":{ }}`, `{"a":[1,2],"b":{}}`},
		{"duplicate keys keep the last value at the first place", `{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`, ``},
		{"numbers exact", `[12345678901234567890,-0.000000000000000000001,1E700,-0]`, ``, ``},
		{"escaped key and value", `{"k\"\\\/\u00e9":"a\u0000b\n\t\u2028"}`, `{"k\"\\/é":"a\u0000b\n\t\u2028"}`, ``},
		{"html not escaped", `{"<&>":"<&>"}`, ``, ``},
		{"untouched strings verbatim, decoded ones re-encoded", `{"a":"\u003c"}`, ``, `{"a":"<"}`},
		{"invalid utf-8 kept verbatim, replaced when decoded", "{\"a\":\"\xff\"}", ``, "{\"a\":\"\ufffd\"}"},
		{"empty containers", `{"a":{},"b":[],"c":""}`, ``, ``},
		{"scalars", `"x"`, ``, ``},
		{"many keys use the map path", `{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1,"k":1,"l":1,"m":1,"n":1,"o":1,"p":1,"q":1,"a":2}`,
			`{"a":2,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1,"k":1,"l":1,"m":1,"n":1,"o":1,"p":1,"q":1}`, ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.lazy == "" {
				tc.lazy = tc.in
			}
			if tc.full == "" {
				tc.full = tc.lazy
			}
			c := newCodec()
			for _, mode := range []struct {
				name string
				f    func(any) any
				want string
			}{{"lazy", func(v any) any { return v }, tc.lazy}, {"full", expandAll, tc.full}} {
				v, err := decode(&api.Event{Data: []byte(tc.in)})
				if err != nil {
					t.Fatal(err)
				}
				got, err := c.marshal(mode.f(v))
				if err != nil || string(got) != mode.want {
					t.Errorf("%s: %s, %v\nwant %s", mode.name, got, err, mode.want)
				}
			}
		})
	}
}

// FuzzCodec checks the lazy decoder and the encoder against encoding/json:
// decode accepts exactly the valid JSON values, and the output, lazy or
// fully expanded, decodes to what encoding/json decodes from the input.
func FuzzCodec(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":"\u00e9"}],"a":null}`, `[]`, `"\ud800"`, `1e5`, `{"":{"":{}}}`, "\"\xff\"", ` true `, `{`, `[1,]`} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, full bool) {
		v, err := decode(&api.Event{Data: []byte(in)})
		if valid := json.Valid([]byte(in)); len(rawjson.Trim([]byte(in))) > 0 && (err == nil) != valid {
			t.Fatalf("decode(%q) err = %v, json.Valid = %v", in, err, valid)
		}
		if err != nil || v == nil {
			return
		}
		want, err := stdDecode([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if full {
			v = expandAll(v)
		}
		out, err := newCodec().marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := stdDecode(out)
		if err != nil {
			t.Fatalf("output %q of %q does not decode: %v", out, in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q -> %q: decodes to %#v, want %#v", in, out, got, want)
		}
	})
}
