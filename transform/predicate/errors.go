package predicate

import "errors"

// ErrPredicate wraps a predicate's failure to evaluate a record (a pattern
// on data that is not JSON) in the error Wrap returns, marked api.Fatal, as the
// record cannot pass any better on a retry.
var ErrPredicate = errors.New("predicate")
