package rawjson_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/ferryhq/ferry/transform/internal/rawjson"
)

// FuzzSkip holds the scanners to encoding/json: on every document json.Valid
// accepts, Skip finds exactly the one value (so its end is the document's
// end), and a walk with Open, String, Colon, Literal and Next decodes it as
// encoding/json does; where Skip accepts a string or literal as the whole document,
// json.Valid agrees (up to the string contents, which Skip leaves to
// ValidString).
func FuzzSkip(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,{"b":"}\""}],"c":null}`, ` [true, false, -0.5E+3] `, `"x\\"`, `1e400`, `01`, `tru`,
		`{"a" "b"}`, `[1,]`, `{]`, `"\ud800"`, `-`, "\"\x01\"", `{"a":1}x`, `[` + string(bytes.Repeat([]byte(`"aaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",`), 3)) + `0]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		b := []byte(doc)
		valid := json.Valid(b)
		i := rawjson.WS(b, 0)
		end, ok := rawjson.Skip(b, i)
		whole := ok && rawjson.WS(b, end) == len(b)
		if valid && !whole {
			t.Fatalf("Skip(%q) = %d, %v; json.Valid accepts it", doc, end, ok)
		}
		if whole && !valid {
			switch c := b[i]; {
			case c == '{' || c == '[':
				// Members of containers are not validated.
			case c == '"':
				if rawjson.ValidString(b[i+1 : end-1]) {
					t.Fatalf("Skip and ValidString accept %q; json.Valid does not", doc)
				}
			default:
				t.Fatalf("Skip accepts literal %q; json.Valid does not", doc)
			}
		}
		if got := rawjson.Valid(rawjson.Trim(b)); got != valid {
			t.Fatalf("Valid(%q) = %v, json.Valid %v", doc, got, valid)
		}
		if !valid {
			return
		}
		got, end, ok := decode(b, i)
		if !ok || rawjson.WS(b, end) != len(b) {
			t.Fatalf("decoding %q with the scanners failed at %d", doc, end)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("scanners decode %q as %#v, encoding/json as %#v", doc, got, want)
		}
	})
}

// text is a string's decoded contents. Contents without a backslash are
// the text as they stand except for invalid UTF-8, which encoding/json
// replaces with U+FFFD and the matchers keep (they compare bytes).
func text(raw []byte, escaped bool) []byte {
	if escaped || !utf8.Valid(raw) {
		return rawjson.Unescape(nil, raw)
	}
	return raw
}

// decode builds the value at b[i] with the scanners, walking objects and
// arrays as the matchers do, into what encoding/json's Unmarshal (with
// UseNumber) gives.
func decode(b []byte, i int) (v any, end int, ok bool) {
	if i >= len(b) {
		return nil, 0, false
	}
	switch b[i] {
	case '{':
		m := map[string]any{}
		i, done := rawjson.Open(b, i)
		for !done {
			if i >= len(b) || b[i] != '"' {
				return nil, 0, false
			}
			end, esc, ok := rawjson.String(b, i)
			if !ok {
				return nil, 0, false
			}
			key := text(b[i+1:end], esc)
			j, ok := rawjson.Colon(b, end)
			if !ok {
				return nil, 0, false
			}
			var x any
			if x, i, ok = decode(b, j); !ok {
				return nil, 0, false
			}
			m[string(key)] = x
			if i, done, ok = rawjson.Next(b, i, '}'); !ok {
				return nil, 0, false
			}
		}
		return m, i, true
	case '[':
		a := []any{}
		i, done := rawjson.Open(b, i)
		for !done {
			var x any
			if x, i, ok = decode(b, i); !ok {
				return nil, 0, false
			}
			a = append(a, x)
			if i, done, ok = rawjson.Next(b, i, ']'); !ok {
				return nil, 0, false
			}
		}
		return a, i, true
	case '"':
		end, esc, ok := rawjson.String(b, i)
		if !ok {
			return nil, 0, false
		}
		return string(text(b[i+1:end], esc)), end + 1, true
	}
	end, ok = rawjson.Literal(b, i)
	if !ok {
		return nil, 0, false
	}
	switch lit := string(b[i:end]); lit {
	case "true":
		return true, end, true
	case "false":
		return false, end, true
	case "null":
		return nil, end, true
	default:
		return json.Number(lit), end, true
	}
}

// FuzzUnescape compares ValidString and Unescape with encoding/json.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{`a\"b`, `\u00e9`, `\ud83d\ude00`, `\ud800`, `\ud800\u0041`, `\udc00`, "\xff", `\\\/\b\f\n\r\t`, `\u12`, `a\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var want string
		err := json.Unmarshal([]byte(`"`+raw+`"`), &want)
		valid := rawjson.ValidString([]byte(raw))
		if valid != (err == nil) {
			t.Fatalf("ValidString(%q) = %v, encoding/json: %v", raw, valid, err)
		}
		got := string(rawjson.Unescape([]byte("p"), []byte(raw))) // never panics
		if valid && got != "p"+want {
			t.Fatalf("Unescape(%q) = %q, want %q", raw, got[1:], want)
		}
	})
}

// FuzzNumber compares ValidNumber with encoding/json.
func FuzzNumber(f *testing.F) {
	for _, s := range []string{`0`, `-0.0e-0`, `01`, `1.`, `.1`, `1e`, `1e+`, `-`, `+1`, `1E400`, `0x10`, `Infinity`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// A number is a valid document that starts with '-' or a digit
		// and has no whitespace around it.
		want := json.Valid([]byte(s)) && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) && len(rawjson.Trim([]byte(s))) == len(s)
		if got := rawjson.ValidNumber([]byte(s)); got != want {
			t.Fatalf("ValidNumber(%q) = %v, want %v", s, got, want)
		}
	})
}
