package template

import "unsafe"

// unsafeString views b as a string without copying, for read-only use
// within one call (number parsing, escaping); it must not be retained.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
