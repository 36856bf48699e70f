package transform

import (
	"errors"
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
		{Name: "pattern", Type: api.TypeJSON, Required: true, Check: checkPattern,
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

func checkPattern(v string) error {
	_, err := pattern.Compile(v)
	var se *pattern.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid event pattern at %s: %s", se.Path, se.Msg)
	}
	return err
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
