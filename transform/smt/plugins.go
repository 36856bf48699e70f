package smt

import "github.com/ferryhq/ferry/api"

// Plugins returns every single message transform, for registration by cmd.
// Rules that span several fields live in each SMT's constructor; Validate
// runs it at config validation, so those errors surface before a task
// starts.
func Plugins() []api.TransformPlugin {
	ps := []api.TransformPlugin{
		InsertField, ReplaceField, MaskField, ExtractField, HoistField, Flatten, Cast,
		TimestampConverter, ValueToKey, SetExtension, InsertHeader, DropExtension,
		RegexRouter, Drop, Unwrap,
	}
	for i := range ps {
		if ps[i].Validate == nil {
			ps[i].Validate = validateByConstruction(ps[i].New)
		}
	}
	return ps
}

func validateByConstruction(newT func(api.Config) (api.Transform, error)) func(api.Config) error {
	return func(c api.Config) error {
		t, err := newT(c)
		if cl, ok := t.(api.Closer); ok && err == nil {
			_ = cl.Close()
		}
		return err
	}
}
