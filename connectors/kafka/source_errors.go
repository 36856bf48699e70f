package kafka

import "errors"

// errBadPosition fails a source task handed a stored position that is not
// <topic>-<partition> with a non-negative offset: a partition cannot be
// resumed from it, and guessing would lose or repeat records.
var errBadPosition = errors.New("invalid stored position")
