package rawjson

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// space marks JSON's four whitespace bytes. A table lookup keeps WS, and
// with it Next, cheap enough for the compiler to inline into the walks.
var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// WS returns the index of the first byte at or after i that is not
// whitespace, or len(b).
func WS(b []byte, i int) int {
	// Every whitespace byte is at most ' ', so one comparison settles
	// the common case of compact JSON.
	for i < len(b) && b[i] <= ' ' && space[b[i]] {
		i++
	}
	return i
}

// Trim returns b without the whitespace around it.
func Trim(b []byte) []byte {
	i, j := WS(b, 0), len(b)
	for j > i && space[b[j-1]] {
		j--
	}
	return b[i:j]
}

// shortString is how far String walks byte by byte before it switches to
// bytes.IndexByte: most keys and values are shorter, and for them the walk
// beats the setup of a vectorised search.
const shortString = 24

// quoteOrBackslash has the top bit of a byte of w set where the first '"'
// or '\\' of w's eight bytes (little-endian) is, and possibly of later
// bytes; 0 when there is neither. (x - 0x01…) &^ x sets a byte's top bit
// where x has a zero byte and, at the lowest such byte, nowhere below it;
// XOR makes the bytes equal to a character zero.
func quoteOrBackslash(w uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	q := w ^ ('"' * ones)
	s := w ^ ('\\' * ones)
	return ((q-ones)&^q | (s-ones)&^s) & highs
}

// String finds the end of the string whose opening quote is at b[i]: its
// contents are b[i+1:end] and b[end] is the closing quote. escaped reports
// a backslash in the contents (which then need Unescape); ok is false when
// the string is not terminated. The caller has seen the quote: checking it
// again here costs the matchers measurably. The contents are not
// validated: see ValidString. Without escapes they are the string's
// text, but for invalid UTF-8, which decoding (Unescape, encoding/json)
// turns into U+FFFD.
func String(b []byte, i int) (end int, escaped, ok bool) {
	j := i + 1
	for lim := min(len(b), j+shortString); j+8 <= lim; {
		m := quoteOrBackslash(binary.LittleEndian.Uint64(b[j:]))
		if m == 0 {
			j += 8
			continue
		}
		j += bits.TrailingZeros64(m) >> 3 // the first quote or backslash
		if b[j] == '"' {
			return j, escaped, true
		}
		escaped = true
		j += 2 // the escaped byte cannot end the string
	}
	for lim := min(len(b), i+1+shortString); j < lim; {
		switch b[j] {
		case '"':
			return j, escaped, true
		case '\\':
			escaped = true
			j += 2
		default:
			j++
		}
	}
	for j < len(b) {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, false, false
		}
		q := j + k
		bs := bytes.IndexByte(b[j:q], '\\')
		if bs < 0 {
			return q, escaped, true
		}
		// Walk the escapes from the first backslash: the quote at q ends
		// the string unless the walk steps over it.
		escaped = true
		p := j + bs
		for p < q {
			if b[p] == '\\' {
				p += 2
			} else {
				p++
			}
		}
		if p == q {
			return q, true, true
		}
		j = q + 1
	}
	return 0, false, false
}

// Literal reads the number, true, false or null at b[i] and reports
// whether exactly one such value stands there, followed by a delimiter
// (whitespace, ',', '}', ']') or the end. A bad byte glued to a literal
// ("truex", "1:2") thus fails here rather than at the separator, so a
// caller that stops scanning after this value never accepts it. One pass
// both finds the end and checks the grammar.
func Literal(b []byte, i int) (end int, ok bool) {
	switch b[i] {
	case 't':
		end, ok = i+4, i+4 <= len(b) && string(b[i:i+4]) == "true"
	case 'f':
		end, ok = i+5, i+5 <= len(b) && string(b[i:i+5]) == "false"
	case 'n':
		end, ok = i+4, i+4 <= len(b) && string(b[i:i+4]) == "null"
	default:
		end, ok = number(b, i)
	}
	if !ok {
		return 0, false
	}
	if end < len(b) && !delim[b[end]] {
		return 0, false
	}
	return end, true
}

// delim marks the bytes that may follow a number or literal.
var delim = [256]bool{',': true, '}': true, ']': true, ' ': true, '\t': true, '\n': true, '\r': true}

// number reads the JSON number at b[i] and returns the index after it; ok
// is false when no number starts there. It stops at the first byte that
// cannot continue the number, which the caller checks.
func number(b []byte, i int) (end int, ok bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		start := i + 1
		if i = digits(b, start); i == start {
			return 0, false // no digit after the point
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		if i = digits(b, i); i == start {
			return 0, false
		}
	}
	return i, true
}

// Skip returns the index after the value at b[i] (which must not be
// whitespace). Strings are found with String and literals read with
// Literal; an object or array is found by balancing brackets outside
// strings, without validating what it holds.
func Skip(b []byte, i int) (end int, ok bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, true
				}
			case '"':
				if i, _, ok = String(b, i); !ok {
					return 0, false
				}
			}
		}
		return 0, false
	case '"':
		end, _, ok = String(b, i)
		return end + 1, ok
	}
	return Literal(b, i)
}

// Open enters the object or array whose opening bracket is at b[i]. j is
// the start of its first member or element (after any whitespace), or,
// with empty true, the index after its closing bracket.
func Open(b []byte, i int) (j int, empty bool) {
	closing := b[i] + 2 // '{'+2 is '}', '['+2 is ']'
	if j = WS(b, i+1); j < len(b) && b[j] == closing {
		return j + 1, true
	}
	return j, false
}

// Colon reads the colon after an object member's key, whose closing quote
// is at b[end], and returns the start of the member's value (after any
// whitespace).
func Colon(b []byte, end int) (value int, ok bool) {
	if j := WS(b, end+1); j < len(b) && b[j] == ':' {
		return WS(b, j+1), true
	}
	return 0, false
}

// Next reads past the separator after an object member or array element
// that ends at i. closing is the container's closing bracket ('}' or ']').
// With done false, j is the start of the next member or element (after any
// whitespace); with done true the container has ended and j is the index
// after its closing bracket. With ok false there is no separator at i and
// j means nothing.
func Next(b []byte, i int, closing byte) (j int, done, ok bool) {
	if i = WS(b, i); i >= len(b) {
		return 0, false, false
	}
	if b[i] == closing {
		return i + 1, true, true
	}
	return WS(b, i+1), false, b[i] == ','
}
