package smt

import "github.com/ferryhq/ferry/api"

// Plugins returns every single message transform, for registration by cmd.
func Plugins() []api.TransformPlugin {
	return []api.TransformPlugin{
		InsertField, ReplaceField, MaskField, ExtractField, HoistField, Flatten, Cast,
		TimestampConverter, ValueToKey, SetExtension, InsertHeader, DropExtension,
		RegexRouter, Drop, Unwrap,
	}
}
