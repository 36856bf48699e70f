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
		{Name: "pattern", Type: api.TypeJSON, Required: true,
			Description: `EventBridge event pattern, e.g. {"type":[{"prefix":"order."}],"data":{"status":["PAID"]}}.`},
		dialectField,
	},
	Validate: func(c api.Config) error {
		d, _ := pattern.ParseDialect(c.String("dialect")) // the Enum checked it
		if err := pattern.CheckDialect(c.String("pattern"), d); err != nil {
			return api.FieldError{Field: "pattern", Message: err.Error()}
		}
		return nil
	},
	New: func(c api.Config) (api.Transform, error) {
		d, err := pattern.ParseDialect(c.String("dialect"))
		if err != nil {
			return nil, err
		}
		p, err := pattern.CompileDialect(c.String("pattern"), d)
		if err != nil {
			return nil, err
		}
		return filter{p}, nil
	},
}

// dialectField chooses whose rules a filter or template follows where
// Alibaba Cloud and AWS EventBridge differ.
var dialectField = api.Field{Name: "dialect", Type: api.TypeString, Default: "alibaba", Enum: pattern.Dialects,
	Description: "alibaba (the default) or aws: whose EventBridge rules apply where the two differ (docs/transforms.md lists each difference)."}

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
