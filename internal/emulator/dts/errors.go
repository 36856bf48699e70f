package dts

import "errors"

var (
	// ErrInvalidConfig means New was given a Config that cannot run: fix
	// the configuration, retrying will not help.
	ErrInvalidConfig = errors.New("dts: invalid config")

	// ErrInvalidChange means a Change cannot be expressed as a DTS record
	// (for example an INSERT without an after image). The caller's data is
	// wrong; nothing was published.
	ErrInvalidChange = errors.New("dts: invalid change")

	// ErrMalformedRecord means bytes are not a DTS Record this package can
	// decode: not valid Avro for the schema, or a union branch DTS does not
	// use for that operation. Skip or dead-letter the record.
	ErrMalformedRecord = errors.New("dts: malformed record")

	// ErrNotStarted means the Server has not been started (Start or Run).
	ErrNotStarted = errors.New("dts: server not started")

	// ErrClosed means the Server was closed; it cannot be started again.
	ErrClosed = errors.New("dts: server closed")
)
