package api

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{"a":[1,-0.5e+3,"\u00e9\n"],"b":{}}`, true},
		{` null `, true},
		{"\"\xff\"", true}, // invalid UTF-8 is accepted, as by encoding/json
		{`[`, false},
		{`01`, false},
		{`1.`, false},
		{`-`, false},
		{`"\x"`, false},
		{`"\u12"`, false},
		{"\"\x01\"", false},
		{`tru`, false},
		{`[1,]`, false},
		{`{"a" 1}`, false},
		{`1 2`, false},
		{``, false},
	} {
		if got := ValidJSON([]byte(tc.in)); got != tc.want {
			t.Errorf("ValidJSON(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzValidJSON checks ValidJSON against json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,-0.5e+3,"\u00e9\n"],"b":{}}`, `[`, `01`, `1.`, `-`, `"\x"`, `"\u12"`, "\"\x01\"", `tru`, `[1,]`, `{"a" 1}`, ` null `, `1 2`, "\"\xff\"", `"\uD83D\uDE00"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if got, want := ValidJSON([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Fatalf("ValidJSON(%q) = %v, json.Valid = %v", in, got, want)
		}
	})
}

func TestValidJSONDepth(t *testing.T) {
	t.Parallel()
	for _, n := range []int{maxJSONDepth, maxJSONDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			close := "]"
			if open != "[" {
				close = "}"
			}
			in := []byte(strings.Repeat(open, n) + "1" + strings.Repeat(close, n))
			if got, want := ValidJSON(in), json.Valid(in); got != want {
				t.Errorf("depth %d of %s: ValidJSON = %v, json.Valid = %v", n, open, got, want)
			}
		}
	}
}

// BenchmarkValidJSON compares ValidJSON with json.Valid on a 1 KB event
// payload like the generator's.
func BenchmarkValidJSON(b *testing.B) {
	doc := []byte(`{"seq":123456,"task":0,"tags":["a","b"],"nested":{"x":1.5,"y":null,"ok":true},"payload":"` +
		strings.Repeat("abcdefghij", 95) + `"}`)
	b.Run("api.ValidJSON", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if !ValidJSON(doc) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if !json.Valid(doc) {
				b.Fatal("invalid")
			}
		}
	})
}

// TestValidJSONStrings puts a quote, a backslash escape, a control byte
// or a non-ASCII byte at every position of strings short enough to end
// inside one word (nextStop's trailing-zero count), of every length
// around a word, and long enough for the vectorised scan (longRun), with
// the string in an array and alone (so that it ends at the end of the
// input, where the scan goes byte by byte), and compares with json.Valid.
func TestValidJSONStrings(t *testing.T) {
	t.Parallel()
	lengths := []int{31, 32, 33, 40, 47, 48, 49, 63, 64, 65, 100}
	for n := range 18 {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		for pos := range n + 1 {
			for _, ins := range []string{`"`, `\n`, `\q`, `\u00e9`, `\u00g9`, "\x01", "\x1f", "\x7f", "\x80", "\xc3\xa9", "\xff", `\"`, `\`} {
				body := strings.Repeat("a", n)
				str := `"` + body[:pos] + ins + body[pos:] + `"`
				for _, s := range []string{`["` + str[1:] + `]`, str, `{` + str + `:1}`} {
					if got, want := ValidJSON([]byte(s)), json.Valid([]byte(s)); got != want {
						t.Fatalf("ValidJSON(%q) = %v, json.Valid = %v", s, got, want)
					}
				}
			}
		}
	}
}
