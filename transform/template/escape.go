package template

import (
	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/internal/rawjson"
)

// JSON string codecs: api's encoders, so the event encoder and templates
// escape identically, and rawjson's decoder and check, which the pattern
// matcher shares.
var (
	appendEscaped   = api.AppendJSONEscaped
	appendQuoted    = api.AppendJSONString
	appendUnescaped = rawjson.Unescape
	validString     = rawjson.ValidString
)
