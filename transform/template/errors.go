package template

import "errors"

// ErrData reports that an event's data could not be read where a template
// needed it: the content type says JSON but the bytes are not valid JSON.
// The runtime treats it as a failure of that one record (errors.tolerance).
var ErrData = errors.New("event data is not valid JSON")

// errDone stops a scan once every path it looks for has been found.
var errDone = errors.New("template: scan done")
