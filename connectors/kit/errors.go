package kit

import "errors"

var (
	// ErrUnsupportedFormat rejects a structured-mode message in an event
	// format other than JSON (application/cloudevents+avro, say).
	ErrUnsupportedFormat = errors.New("unsupported CloudEvents event format")
	// ErrBinary rejects a binary-mode message whose headers do not make
	// a valid event: a missing required attribute, an attribute name the
	// CloudEvents naming rules refuse, an unparsable time, or JSON-typed
	// data that is not JSON.
	ErrBinary = errors.New("invalid binary-mode CloudEvent")
	// ErrPlainData rejects a plain message whose content type says JSON
	// but whose body is not.
	ErrPlainData = errors.New("body is not valid JSON for its content type")
)
