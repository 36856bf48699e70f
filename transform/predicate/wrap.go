package predicate

import (
	"fmt"

	"github.com/ferryhq/ferry/api"
)

// Wrap returns a transform that applies t to the records for which p
// holds (with negate, for which it does not) and passes every other record
// through unchanged. A predicate error fails the record with api.Fatal.
// The result implements api.Closer exactly when t does.
func Wrap(t api.Transform, p api.Predicate, negate bool) api.Transform {
	w := wrapped{t: t, p: p, negate: negate}
	if c, ok := t.(api.Closer); ok {
		return wrappedCloser{w, c}
	}
	return w
}

type wrapped struct {
	t      api.Transform
	p      api.Predicate
	negate bool
}

func (w wrapped) Apply(r *api.Record) (bool, error) {
	ok, err := w.p.Test(r)
	if err != nil {
		return false, api.Fatal(fmt.Errorf("%w: %w", ErrPredicate, err))
	}
	if ok == w.negate {
		return true, nil
	}
	return w.t.Apply(r)
}

type wrappedCloser struct {
	wrapped
	c api.Closer
}

func (w wrappedCloser) Close() error { return w.c.Close() }
