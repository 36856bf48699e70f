package file

import "errors"

var (
	// errLineTooLong reports a line over max.line.bytes.
	errLineTooLong = errors.New("line exceeds max.line.bytes")
	// errNotObject reports a line that is JSON but not an object.
	errNotObject = errors.New("line is not a JSON object")
	// errInvalidJSON reports a line that is not JSON at all.
	errInvalidJSON = errors.New("line is not valid JSON")
	// errTruncated reports a followed file that became shorter than the
	// position already read: it was truncated or replaced.
	errTruncated = errors.New("file shrank below the read position (truncated or replaced)")
	// errBadPosition reports a committed position that is not a byte
	// offset within the file.
	errBadPosition = errors.New("committed position is not a byte offset within the file")
)
