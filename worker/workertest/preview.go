// Package workertest is test support for the worker and its REST API:
// plugins whose behaviour a test can provoke on purpose. It is imported by
// tests only.
package workertest

import (
	"fmt"
	"sync/atomic"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/worker"
)

// PreviewBuilt and PreviewClosed count the preview transforms built and
// closed, so a test can check that every chain a preview builds is closed.
var PreviewBuilt, PreviewClosed atomic.Int64

// PreviewRegistry holds small transforms and a predicate that make every
// preview outcome easy to provoke:
//
//	settype  sets the type to its "to" field
//	drop     drops events whose type is its "match" field
//	fail     fails events whose subject is "bad" (quoting its secret "key")
//	         and panics on subject "panic"
//	exts     sets the extensions zeta, alpha and mid
//	badjson  makes the data invalid for its JSON content type
//	leak     copies its secret "key" into the subject, or the data when
//	         the event's subject is "data"
//	nonew    validates but fails in its constructor
//	subject  (predicate) holds where the subject equals its "is" field
func PreviewRegistry() worker.Registry {
	return worker.Registry{
		Transforms: []api.TransformPlugin{
			{Name: "settype", Spec: api.Spec{{Name: "to", Type: api.TypeString, Required: true}},
				New: func(c api.Config) (api.Transform, error) { return previewCounted(previewSetType(c.String("to"))), nil }},
			{Name: "drop", Spec: api.Spec{{Name: "match", Type: api.TypeString, Required: true}},
				New: func(c api.Config) (api.Transform, error) { return previewCounted(previewDrop(c.String("match"))), nil }},
			{Name: "fail", Spec: api.Spec{{Name: "key", Type: api.TypeString, Secret: true}},
				New: func(c api.Config) (api.Transform, error) { return previewCounted(previewFail(c.String("key"))), nil }},
			{Name: "exts", New: func(api.Config) (api.Transform, error) { return previewCounted(previewExts{}), nil }},
			{Name: "badjson", New: func(api.Config) (api.Transform, error) { return previewCounted(previewBadJSON{}), nil }},
			{Name: "leak", Spec: api.Spec{{Name: "key", Type: api.TypeString, Secret: true}},
				New: func(c api.Config) (api.Transform, error) { return previewCounted(previewLeak(c.String("key"))), nil }},
			{Name: "nonew", Spec: api.Spec{{Name: "token", Type: api.TypeString, Secret: true}},
				New: func(c api.Config) (api.Transform, error) {
					return nil, fmt.Errorf("cannot start with token %s", c.String("token"))
				}},
		},
		Predicates: []api.PredicatePlugin{
			{Name: "subject", Spec: api.Spec{{Name: "is", Type: api.TypeString, Required: true}},
				New: func(c api.Config) (api.Predicate, error) { return previewSubject(c.String("is")), nil }},
		},
		PredicateWrap: func(t api.Transform, p api.Predicate, negate bool) api.Transform {
			return previewGuard{t: t, p: p, negate: negate}
		},
	}
}

type previewCloser struct{ api.Transform }

func (previewCloser) Close() error { PreviewClosed.Add(1); return nil }

func previewCounted(t api.Transform) api.Transform {
	PreviewBuilt.Add(1)
	return previewCloser{t}
}

type previewSetType string

func (t previewSetType) Apply(r *api.Record) (bool, error) {
	r.Event.Type = string(t)
	return true, nil
}

type previewDrop string

func (d previewDrop) Apply(r *api.Record) (bool, error) { return r.Event.Type != string(d), nil }

type previewFail string

func (f previewFail) Apply(r *api.Record) (bool, error) {
	switch r.Event.Subject {
	case "bad":
		return false, fmt.Errorf("cannot handle %s (key %s)", r.Event.ID, string(f))
	case "panic":
		panic("boom")
	}
	return true, nil
}

type previewExts struct{}

func (previewExts) Apply(r *api.Record) (bool, error) {
	r.Event.SetExtension("zeta", "z")
	r.Event.SetExtension("alpha", int64(1))
	r.Event.SetExtension("mid", true)
	return true, nil
}

type previewBadJSON struct{}

func (previewBadJSON) Apply(r *api.Record) (bool, error) {
	r.Event.DataContentType = "application/json"
	r.Event.Data = []byte("{not json")
	return true, nil
}

type previewLeak string

func (l previewLeak) Apply(r *api.Record) (bool, error) {
	if r.Event.Subject == "data" {
		r.Event.Data = []byte(string(l))
		return true, nil
	}
	r.Event.Subject = "key " + string(l)
	return true, nil
}

type previewSubject string

func (s previewSubject) Test(r *api.Record) (bool, error) { return r.Event.Subject == string(s), nil }

type previewGuard struct {
	t      api.Transform
	p      api.Predicate
	negate bool
}

func (g previewGuard) Apply(r *api.Record) (bool, error) {
	ok, err := g.p.Test(r)
	if err != nil || ok == g.negate {
		return true, err
	}
	return g.t.Apply(r)
}

func (g previewGuard) Close() error {
	if c, ok := g.t.(api.Closer); ok {
		return c.Close()
	}
	return nil
}
