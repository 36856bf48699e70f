package template

import (
	"errors"
	"fmt"
)

// ErrData reports that an event's data could not be read where a template
// needed it: the content type says JSON but the bytes are not valid JSON.
// The runtime treats it as a failure of that one record (errors.tolerance).
var ErrData = errors.New("event data is not valid JSON")

// errDone stops a scan once every path it looks for has been found.
var errDone = errors.New("template: scan done")

// Error is a problem with one part of a transform's definition, so config
// validation can name the key: Field is "form", "value" or "template".
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string { return "template: bad " + e.Field + ": " + e.Msg }

func errorf(field, format string, args ...any) *Error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}
