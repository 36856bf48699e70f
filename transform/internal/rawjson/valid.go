package rawjson

import "github.com/ferryhq/ferry/api"

// Valid reports whether raw is exactly one JSON value with no whitespace
// around it, as json.Valid would. Strings, numbers and literals are checked
// here; objects and arrays by api.ValidJSON. Nothing allocates.
func Valid(raw []byte) bool {
	if len(raw) == 0 {
		return false
	}
	switch raw[0] {
	case '"':
		return len(raw) >= 2 && raw[len(raw)-1] == '"' && ValidString(raw[1:len(raw)-1])
	case '{', '[':
		return api.ValidJSON(raw)
	}
	end, ok := Literal(raw, 0)
	return ok && end == len(raw)
}

// ValidString reports whether raw is valid as the contents of a JSON string
// (the bytes between the quotes): no control characters or bare quotes,
// and every escape well formed. Like encoding/json it accepts invalid UTF-8,
// which Unescape turns into U+FFFD.
func ValidString(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c < 0x20 || c == '"' {
			return false
		}
		if c != '\\' {
			continue
		}
		if i+1 >= len(raw) {
			return false
		}
		switch raw[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i++
		case 'u':
			if i+6 > len(raw) || !isHex(raw[i+2]) || !isHex(raw[i+3]) || !isHex(raw[i+4]) || !isHex(raw[i+5]) {
				return false
			}
			i += 5
		default:
			return false
		}
	}
	return true
}

// ValidNumber reports whether raw is exactly one JSON number.
func ValidNumber(raw []byte) bool {
	end, ok := number(raw, 0)
	return ok && end == len(raw)
}

// digits returns the index after the run of decimal digits at raw[i].
func digits(raw []byte, i int) int {
	for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
		i++
	}
	return i
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
