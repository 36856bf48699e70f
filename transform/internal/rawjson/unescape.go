package rawjson

import "github.com/ferryhq/ferry/api"

// Unescape appends the text of a JSON string's contents (the bytes between
// the quotes) to dst and returns the extended buffer, as encoding/json
// decodes it. It is api.AppendJSONUnescaped, which the CloudEvent decoder
// shares; see there for the handling of malformed input.
func Unescape(dst, raw []byte) []byte { return api.AppendJSONUnescaped(dst, raw) }
