// Package rawjson provides zero-allocation scanning of raw JSON bytes for the
// transform engine.
//
// The event pattern matcher (transform/pattern) and the template extractor
// (transform/template) both walk an event's data once, in place, descending
// only into the members they need. They share the low-level steps here and
// keep their own tree walks, which differ.
//
// Every scanner takes the document b and an index i and returns the index
// just after what it read, with ok false when the bytes there are not valid
// JSON. None of them allocates or keeps b.
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
// Values a caller uses are checked in full with Valid or ValidString, so a
// large skipped payload costs a byte search instead of a full parse. For
// every document that json.Valid accepts, the scanners find exactly the
// values encoding/json would; the fuzz tests hold them to that.
//
// Unescape decodes a string's contents as encoding/json does, appending to
// a caller's buffer, so a stack buffer keeps short keys allocation-free.
package rawjson
