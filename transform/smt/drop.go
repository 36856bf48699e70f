package smt

import "github.com/ferryhq/ferry/api"

// Drop drops every record; attach a predicate to choose which (Kafka's
// Filter, which likewise only makes sense with a predicate). Dropped
// records are acknowledged, so their positions still commit.
var Drop = api.TransformPlugin{
	Name:    "drop",
	Summary: "Drop every record it applies to; combine with a predicate (Kafka Filter).",
	New:     func(api.Config) (api.Transform, error) { return drop{}, nil },
}

type drop struct{}

func (drop) Apply(*api.Record) (bool, error) { return false, nil }
