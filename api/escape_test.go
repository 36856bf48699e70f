package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// plainByte is the one-byte-at-a-time definition escapeFree must agree with.
func plainByte(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }

func TestEscapeFreeEveryByteAtEveryPosition(t *testing.T) {
	for c := range 256 {
		for pos := range 8 {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			want := 8
			if !plainByte(byte(c)) {
				want = pos
			}
			// Alone (the word at once) and after a plain byte (the
			// word, then the bytes one at a time).
			if got := escapeFree(string(b), 0); got != want {
				t.Fatalf("escapeFree(%q, 0) = %d, want %d (byte %#x)", b, got, want, c)
			}
			if got := escapeFree("x"+string(b), 1); got != want+1 {
				t.Fatalf("escapeFree(%q, 1) = %d, want %d (byte %#x)", "x"+string(b), got, want+1, c)
			}
		}
	}
	// Neighbours that borrow from each other: a special byte next to
	// bytes just above and below each threshold.
	for _, s := range []string{"\x1f\x20\x21\x22\x23\x5b\x5c\x5d", "\x20\x20\x20\x20\x20\x20\x20\x1f", "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x80", "\x21\x21\x21\x21\x21\x21\x21\x22", "\x00\x01\x02\x03\x04\x05\x06\x07"} {
		want := 0
		for want < 8 && plainByte(s[want]) {
			want++
		}
		if got := escapeFree(s, 0); got != want {
			t.Errorf("escapeFree(%q, 0) = %d, want %d", s, got, want)
		}
	}
}

func TestAppendJSONEscaped(t *testing.T) {
	for _, s := range []string{
		"", "a", "plain ascii text longer than eight bytes",
		`quote " in the middle of a long string`, `back\slash after eight`,
		"tab\tnew\nline\rcarriage", "\x00\x01\x1f control bytes 12345678",
		"ünïcödé and 中文 after ascii", "bad \xff utf-8 \xc3 here 12345678",
		"line sep \u2028 and para \u2029 12345678", strings.Repeat("x", 63) + `"`,
	} {
		got := `"` + string(AppendJSONEscaped(nil, s)) + `"`
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("AppendJSONEscaped(%q) = %s: not a JSON string: %v", s, got, err)
			continue
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); back != want {
			t.Errorf("AppendJSONEscaped(%q) decodes to %q, want %q", s, back, want)
		}
	}
}

// FuzzAppendJSONEscaped checks that the output is always a JSON string
// that decodes to the input (invalid UTF-8 replaced by U+FFFD, as
// encoding/json does).
func FuzzAppendJSONEscaped(f *testing.F) {
	for _, s := range []string{"", "abc", "12345678\"", "\x00\x7f\x80\xff", "αβγδεζηθ", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := `"` + string(AppendJSONEscaped(nil, s)) + `"`
		var back string
		if err := json.Unmarshal([]byte(out), &back); err != nil {
			t.Fatalf("AppendJSONEscaped(%q) = %s: not a JSON string: %v", s, out, err)
		}
		// encoding/json replaces invalid UTF-8 the same way.
		enc, _ := json.Marshal(s)
		var want string
		_ = json.Unmarshal(enc, &want)
		if back != want {
			t.Fatalf("AppendJSONEscaped(%q) decodes to %q, want %q", s, back, want)
		}
	})
}

func BenchmarkAppendJSONEscaped(b *testing.B) {
	s := "connector-orders-0-1234567890 /ferry/generator/orders ferry.generator.event"
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = AppendJSONEscaped(buf[:0], s)
	}
}
