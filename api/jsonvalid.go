package api

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// ValidJSON reports whether b is exactly one JSON value with optional
// surrounding whitespace. It accepts what encoding/json's Valid accepts,
// including its nesting limit and its leniency about invalid UTF-8 inside
// strings, several times faster and without allocating: sinks and the
// engine call it on every event's data, so it is a hot path.
func ValidJSON(b []byte) bool {
	i, ok := validValue(b, skipJSONSpace(b, 0), 0)
	return ok && skipJSONSpace(b, i) == len(b)
}

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

// jsonSpace and strStop classify bytes with one table lookup each.
var jsonSpace, strStop [256]bool

func init() {
	for _, c := range " \t\n\r" {
		jsonSpace[c] = true
	}
	for c := range 0x20 {
		strStop[c] = true
	}
	strStop['"'], strStop['\\'] = true, true
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && jsonSpace[b[i]] {
		i++
	}
	return i
}

func validValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return validString(b, i)
	case c == '{':
		return validObject(b, i, depth+1)
	case c == '[':
		return validArray(b, i, depth+1)
	case c == 't':
		return validWord(b, i, "true")
	case c == 'f':
		return validWord(b, i, "false")
	case c == 'n':
		return validWord(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return validNumber(b, i)
	}
	return i, false
}

func validObject(b []byte, i, depth int) (int, bool) {
	if depth > maxJSONDepth {
		return i, false
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, false
		}
		var ok bool
		if i, ok = validString(b, i); !ok {
			return i, false
		}
		if i = skipJSONSpace(b, i); i >= len(b) || b[i] != ':' {
			return i, false
		}
		if i, ok = validValue(b, skipJSONSpace(b, i+1), depth); !ok {
			return i, false
		}
		if i = skipJSONSpace(b, i); i >= len(b) {
			return i, false
		}
		switch b[i] {
		case '}':
			return i + 1, true
		case ',':
			i = skipJSONSpace(b, i+1)
		default:
			return i, false
		}
	}
}

func validArray(b []byte, i, depth int) (int, bool) {
	if depth > maxJSONDepth {
		return i, false
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = validValue(b, i, depth); !ok {
			return i, false
		}
		if i = skipJSONSpace(b, i); i >= len(b) {
			return i, false
		}
		switch b[i] {
		case ']':
			return i + 1, true
		case ',':
			i = skipJSONSpace(b, i+1)
		default:
			return i, false
		}
	}
}

func validWord(b []byte, i int, word string) (int, bool) {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return i, false
	}
	return i + len(word), true
}

// validString returns the index after the string starting at b[i] == '"'.
// Plain bytes are passed over a word at a time (nextStop); only quotes,
// escapes and control characters take the slow branch. Bytes of 0x80 and
// more are plain: like encoding/json, the validator accepts invalid UTF-8
// inside strings (decoders replace it with U+FFFD).
func validString(b []byte, i int) (int, bool) {
	for i++; ; i++ {
		if i = nextStop(b, i); i >= len(b) {
			return i, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		}
		i++ // a backslash
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if len(b)-i < 5 || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
				return i, false
			}
			i += 4
		default:
			return i, false
		}
	}
}

// nextStop returns the index of the first quote, backslash or control
// character at or after i, or len(b). It tests eight bytes per step
// (SWAR): the lowest flagged byte of stringStops is exactly the first
// stop in the word, so a short string's end is found with one word and a
// trailing-zero count, never byte by byte. After four plain words it
// hands a long run (a payload) to longRun.
func nextStop(b []byte, i int) int {
	const highs = 0x8080808080808080
	for n := 0; i+8 <= len(b); i += 8 {
		if m := stringStops(binary.LittleEndian.Uint64(b[i:])) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		if n++; n == 4 {
			return longRun(b, i+8)
		}
	}
	for i < len(b) && !strStop[b[i]] {
		i++
	}
	return i
}

// longRun is nextStop for a long string: the closing quote
// and the first backslash are found by bytes.IndexByte, which the
// standard library vectorises, and only the control-character test runs
// a word at a time. It returns the index of the first quote, backslash
// or control character at or after i, or len(b).
func longRun(b []byte, i int) int {
	seg := b[i:]
	if q := bytes.IndexByte(seg, '"'); q >= 0 {
		seg = seg[:q]
	}
	if k := bytes.IndexByte(seg, '\\'); k >= 0 {
		seg = seg[:k]
	}
	return i + firstControl(seg)
}

// firstControl returns the index of the first byte below 0x20 in s, or
// len(s). A byte below 0x20 borrows in x-0x20…; a byte of 0x80 or more
// has its top bit cleared by &^x, so only control bytes (and bytes after
// one, which the exact loop never reaches) are flagged.
func firstControl(s []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+32 <= len(s); i += 32 {
		w := s[i : i+32]
		x := binary.LittleEndian.Uint64(w)
		y := binary.LittleEndian.Uint64(w[8:])
		z := binary.LittleEndian.Uint64(w[16:])
		v := binary.LittleEndian.Uint64(w[24:])
		if ((x-0x20*ones)&^x|(y-0x20*ones)&^y|(z-0x20*ones)&^z|(v-0x20*ones)&^v)&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if s[i] < 0x20 {
			return i
		}
	}
	return i
}

// stringStops marks, in the top bit of each byte of the word x, the bytes
// a JSON string's scan must stop at: a quote, a backslash or a control
// character (and possibly bytes after one; a false positive only sends
// the bytes to the exact check). A zero byte in q or s is a quote or
// backslash; a byte below 0x20 borrows in x-0x20… . Only the top bits of
// the result mean anything.
func stringStops(x uint64) uint64 {
	const ones = 0x0101010101010101
	q := x ^ ('"' * ones)
	s := x ^ ('\\' * ones)
	return (q-ones)&^q | (s-ones)&^s | (x-0x20*ones)&^x
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func validNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = jsonDigits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := jsonDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := jsonDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func jsonDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
