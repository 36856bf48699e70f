package api

import (
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// AppendJSONUnescaped appends the text of a JSON string's contents (the
// bytes between the quotes) to dst and returns the extended buffer; it is
// the inverse of AppendJSONEscaped. It decodes as encoding/json does for
// contents that a JSON validator accepts: escapes are replaced, surrogate
// pairs combine, and a lone surrogate or an invalid UTF-8 byte becomes
// U+FFFD. On other input it does not panic; a malformed escape is copied
// as it stands. Contents without escapes or non-ASCII bytes are copied in
// one append, so a stack buffer keeps short strings allocation-free.
func AppendJSONUnescaped(dst, raw []byte) []byte {
	start := 0 // raw[start:i] is text still to copy
	for i := 0; i < len(raw); {
		if i = unescapeFree(raw, i); i == len(raw) {
			break
		}
		if c := raw[i]; c != '\\' {
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, raw[start:i]...)
				dst = utf8.AppendRune(dst, utf8.RuneError)
				start = i + 1
			}
			i += size
			continue
		}
		if i+1 >= len(raw) {
			break
		}
		var r rune
		n := 2 // bytes of raw the escape takes
		switch e := raw[i+1]; e {
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case '"', '\\', '/':
			r = rune(e)
		case 'u':
			var ok bool
			if r, ok = hex4(raw, i+2); !ok {
				i += 2
				continue // copied as it stands
			}
			n = 6
			if utf16.IsSurrogate(r) {
				lo, ok := rune(-1), false
				if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
					lo, ok = hex4(raw, i+8)
				}
				if d := utf16.DecodeRune(r, lo); ok && d != utf8.RuneError {
					r, n = d, 12
				} else {
					r = utf8.RuneError
				}
			}
		default:
			i += 2
			continue // copied as it stands
		}
		dst = append(dst, raw[start:i]...)
		dst = utf8.AppendRune(dst, r)
		i += n
		start = i
	}
	return append(dst, raw[start:]...)
}

// unescapeFree returns the index of the first backslash or non-ASCII
// byte at or after i, or len(raw): eight bytes per step while it can.
func unescapeFree(raw []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(raw); i += 8 {
		x := binary.LittleEndian.Uint64(raw[i:])
		s := x ^ ('\\' * ones) // a zero byte where raw has a backslash
		if (x|(s-ones)&^s)&highs != 0 {
			break
		}
	}
	for ; i < len(raw); i++ {
		if c := raw[i]; c == '\\' || c >= utf8.RuneSelf {
			return i
		}
	}
	return i
}

// hex4 decodes the four hex digits at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
