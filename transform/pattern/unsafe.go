package pattern

import "unsafe"

// unsafeString views b as a string without copying. The string must not
// outlive b or be retained; it is used only for parsing within one call.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// unsafeBytes views s as bytes without copying; callers only read them.
func unsafeBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
