package transform

import "github.com/ferryhq/ferry/api"

// Plugins returns every built-in transform plugin.
func Plugins() []api.TransformPlugin {
	return []api.TransformPlugin{Filter, Template}
}
