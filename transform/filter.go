package transform

import (
	"fmt"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/pattern"
)

// Filter keeps the events that match an EventBridge event pattern and
// drops the rest; dropped records are acknowledged, so their positions
// still commit.
var Filter = api.TransformPlugin{
	Name:    "filter",
	Summary: "Keep only events matching an EventBridge event pattern.",
	Spec: api.Spec{
		{Name: "pattern", Type: api.TypeJSON, Required: true, Check: pattern.Check,
			Description: `EventBridge event pattern, e.g. {"type":[{"prefix":"order."}],"data":{"status":["PAID"]}}.`},
	},
	New: func(c api.Config) (api.Transform, error) {
		p, err := pattern.Compile(c.String("pattern"))
		if err != nil {
			return nil, err
		}
		return filter{p}, nil
	},
}

type filter struct{ p *pattern.Pattern }

// Apply keeps r when it matches. Data that is not valid JSON is an error
// for that record, handled by the connector's errors.tolerance.
func (f filter) Apply(r *api.Record) (bool, error) {
	ok, err := f.p.Match(&r.Event)
	if err != nil {
		return false, api.Fatal(fmt.Errorf("filter: %w", err))
	}
	return ok, nil
}
