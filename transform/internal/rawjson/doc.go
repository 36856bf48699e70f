// Package rawjson provides zero-allocation scanning of raw JSON bytes for the
// transform engine.
//
// The event pattern matcher (transform/pattern) and the template extractor
// (transform/template) both walk an event's data once, in place, descending
// only into the members they need. They share the low-level steps here and
// keep their own tree walks, which differ.
//
// Every scanner takes the document b and an index i into it and returns
// an index past what it read (its doc says which), with ok false when the
// bytes there are not valid JSON. None of them allocates or keeps b. A
// walk reads an object as Open, then per member a check for the quote,
// String (the key), Colon, the value and Next, until Open or Next reports
// the closing bracket.
//
//	WS       skips whitespace
//	String   finds the end of a string token (b[i] is its opening quote)
//	Literal  reads a number, true, false or null and validates it
//	Skip     finds the end of any value
//	Open     enters an object or array
//	Colon    reads the colon after an object member's key
//	Next     reads the separator after an object member or array element
//
// The scanners check what they must to find a value's end, not every byte:
// String does not validate a string's contents and Skip does not validate
// the members of an object or array (it balances brackets and strings).
// A caller checks the values it uses, as far as it needs, with Valid or
// ValidString, so a large skipped payload costs a byte search instead of a
// full parse. On every document that json.Valid accepts, a walk with the
// scanners finds exactly the values encoding/json decodes (a string
// without escapes but with invalid UTF-8 keeps its bytes, where
// encoding/json substitutes U+FFFD); the fuzz tests hold them to that.
//
// Unescape decodes a string's contents as encoding/json does, appending to
// a caller's buffer, so a stack buffer keeps short keys allocation-free.
package rawjson
