package rawjson_test

import (
	"bytes"
	"testing"

	"github.com/ferryhq/ferry/transform/internal/rawjson"
)

func TestString(t *testing.T) {
	t.Parallel()
	long := string(bytes.Repeat([]byte("x"), 40))
	cases := []struct {
		name    string
		in      string // b[0] is the opening quote
		end     int    // -1: not terminated
		escaped bool
	}{
		{"empty", `""`, 1, false},
		{"plain", `"abc",`, 4, false},
		{"escaped quote", `"a\"b"`, 5, true},
		{"escaped backslash before quote", `"a\\"b"`, 4, true},
		{"three backslashes", `"\\\"x"`, 6, true},
		{"unicode escape", `"\u00e9"`, 7, true},
		{"unterminated", `"abc`, -1, false},
		{"only escaped quote", `"\"`, -1, false},
		{"long", `"` + long + `"`, 41, false},
		{"long escaped quote", `"` + long + `\"` + long + `"`, 83, true},
		{"long backslash pair", `"` + long + `\\"`, 43, true},
		{"long unterminated", `"` + long + `\"`, -1, false},
		{"escape across the short limit", `"` + long[:23] + `\"x"`, 27, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			end, esc, ok := rawjson.String([]byte(tc.in), 0)
			if !ok {
				end = -1
			}
			if end != tc.end || (ok && esc != tc.escaped) {
				t.Errorf("String(%s) = %d, %v, %v; want %d, %v", tc.in, end, esc, ok, tc.end, tc.escaped)
			}
		})
	}
}

func TestSkip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		end  int // -1: rejected
	}{
		{"object", `{"a":[1,{"b":"}"}]} x`, 19},
		{"array", `[1, 2] ,`, 6},
		{"string", `"a\"b",`, 6},
		{"number", `-1.5e3,`, 6},
		{"number at end", `12`, 2},
		{"true", `true]`, 4},
		{"null", `null }`, 4},
		{"unbalanced", `{"a":[1}`, -1},
		{"unterminated string in object", `{"a":"}`, -1},
		{"glued literal", `truex,`, -1},
		{"glued number", `1:2`, -1},
		{"leading zero", `01`, -1},
		{"bad literal", `tru}`, -1},
		{"separator", `,`, -1},
		{"closing bracket", `]`, -1},
		{"colon", `:1`, -1},
		{"empty", ``, -1},
		// Skip balances containers without validating their members.
		{"lenient inside containers", `{x]`, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			end, ok := rawjson.Skip([]byte(tc.in), 0)
			if !ok {
				end = -1
			}
			if end != tc.end {
				t.Errorf("Skip(%s) = %d, %v; want %d", tc.in, end, ok, tc.end)
			}
		})
	}
}

func TestNext(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		j    int
		done bool
		ok   bool
	}{
		{"comma", ` , "b"`, 3, false, true},
		{"closing", ` } ,`, 2, true, true},
		{"other closing", `]`, 0, false, false},
		{"missing", `  `, 0, false, false},
		{"junk", `x`, 0, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j, done, ok := rawjson.Next([]byte(tc.in), 0, '}')
			if ok != tc.ok || (ok && (j != tc.j || done != tc.done)) {
				t.Errorf("Next(%q) = %d, %v, %v; want %d, %v, %v", tc.in, j, done, ok, tc.j, tc.done, tc.ok)
			}
		})
	}
}

func TestOpenColon(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		in    string
		j     int
		empty bool
	}{
		{"empty object", `{ } ,`, 3, true},
		{"empty array", `[]`, 2, true},
		{"object", "{\n\"a\":1}", 2, false},
		{"array", `[ 1]`, 2, false},
		{"mismatched", `[}`, 1, false},
		{"unterminated", `{ `, 2, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if j, empty := rawjson.Open([]byte(tc.in), 0); j != tc.j || empty != tc.empty {
				t.Errorf("Open(%q) = %d, %v; want %d, %v", tc.in, j, empty, tc.j, tc.empty)
			}
		})
	}
	colons := []struct {
		in string // the key's closing quote is at 0
		j  int    // -1: rejected
	}{
		{`":1`, 2}, {"\" : \t1", 5}, {`"1`, -1}, {`"  `, -1}, {`"`, -1},
	}
	for _, tc := range colons {
		j, ok := rawjson.Colon([]byte(tc.in), 0)
		if !ok {
			j = -1
		}
		if j != tc.j {
			t.Errorf("Colon(%q) = %d, %v; want %d", tc.in, j, ok, tc.j)
		}
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`0`, `-0.5e+7`, `1E9`, `"a\u00e9\n"`, `true`, `false`, `null`, `{"a":[1]}`, `[]`} {
		if !rawjson.Valid([]byte(in)) {
			t.Errorf("Valid(%s) = false", in)
		}
	}
	for _, in := range []string{``, ` 1`, `1 `, `01`, `1.`, `.5`, `+1`, `1e`, `-`, `"\x"`, "\"\x01\"", `"`, `{`, `nul`, `truex`} {
		if rawjson.Valid([]byte(in)) {
			t.Errorf("Valid(%q) = true", in)
		}
	}
}

func TestTrim(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{" \t{}\r\n": "{}", "": "", "   ": "", "1": "1"} {
		if got := string(rawjson.Trim([]byte(in))); got != want {
			t.Errorf("Trim(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnescape(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, raw, want string }{
		{"plain", `abc`, "abc"},
		{"simple escapes", `\"\\\/\b\f\n\r\t`, "\"\\/\b\f\n\r\t"},
		{"unicode", `caf\u00E9`, "café"},
		{"surrogate pair", `\ud83d\ude00!`, "😀!"},
		{"lone high surrogate", `\ud800x`, "\uFFFDx"},
		{"high then non-surrogate", `\ud800\u0041`, "\uFFFDA"},
		{"lone low surrogate", `\udc00`, "\uFFFD"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"valid UTF-8", "é😀", "é😀"},
		// Malformed input (which ValidString rejects) is copied, never panics.
		{"trailing backslash", `a\`, `a\`},
		{"short unicode", `\u12`, `\u12`},
		{"bad hex", `\u12x4`, `\u12x4`},
		{"unknown escape", `\q`, `\q`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := string(rawjson.Unescape([]byte(">"), []byte(tc.raw))); got != ">"+tc.want {
				t.Errorf("Unescape(%q) = %q, want %q", tc.raw, got, ">"+tc.want)
			}
		})
	}
}

func TestNoAllocs(t *testing.T) {
	doc := []byte(`{"k\u00e9y": [1, "x\"y", {"z": null}], "n": -2.5e3, "s": "` + string(bytes.Repeat([]byte("s"), 100)) + `"}`)
	var buf [64]byte
	allocs := testing.AllocsPerRun(100, func() {
		if end, ok := rawjson.Skip(doc, 0); !ok || end != len(doc) {
			t.Fatal("Skip failed")
		}
		end, _, _ := rawjson.String(doc, 1)
		_ = rawjson.Unescape(buf[:0], doc[2:end])
		if !rawjson.Valid([]byte(`"x\"y"`)) || !rawjson.ValidNumber([]byte("-2.5e3")) {
			t.Fatal("Valid failed")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}
