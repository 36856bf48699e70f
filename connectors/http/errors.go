package http

import "errors"

var (
	// errMalformed wraps every reason a body or event is rejected with 400.
	errMalformed = errors.New("malformed request")
	// errUnsupportedType is answered with 415.
	errUnsupportedType = errors.New("unsupported content type")
	// errClosed is returned by Read after Close.
	errClosed = errors.New("http source: closed")
	// errBadPosition reports an acknowledged or committed position that is
	// not one of this source's sequence numbers.
	errBadPosition = errors.New("http source: position is not a decimal sequence number")

	// errRequest wraps a request that got no answer (connection refused,
	// reset, timeout): transient.
	errRequest = errors.New("http sink: request failed")
	// errToken wraps a failure to get an OAuth2 access token.
	errToken = errors.New("http sink: oauth2 token")
	// errTarget wraps a record whose URL, header or batch member cannot be
	// made: the record's own fault.
	errTarget = errors.New("invalid request")
)
