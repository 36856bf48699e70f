package generator

import "errors"

// errBadPosition reports a committed position that is not a seq number
// this source produced.
var errBadPosition = errors.New("generator: committed position is not a decimal sequence number")
