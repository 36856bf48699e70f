package worker

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/api"
)

// Registry holds the plugins a worker can run. cmd fills it from the
// connector packages; tests fill it with fakes. A source and a sink may
// share a name (a "file" source and a "file" sink): the envelope key that
// names them (source= or sink=) tells them apart.
type Registry struct {
	Sources    []api.SourcePlugin
	Sinks      []api.SinkPlugin
	Transforms []api.TransformPlugin
	Predicates []api.PredicatePlugin
	// PredicateWrap guards a transform with a predicate (negate inverts
	// it). Required when Predicates is not empty; cmd passes the transform
	// engine's predicate.Wrap, which package worker may not import.
	PredicateWrap func(t api.Transform, p api.Predicate, negate bool) api.Transform
}

// Plugin kinds, as PluginInfo.Type reports them (Kafka Connect's words).
const (
	kindSource    = "source"
	kindSink      = "sink"
	kindTransform = "transformation"
	kindPredicate = "predicate"
)

// Source returns the source plugin called name.
func (r Registry) Source(name string) (api.SourcePlugin, bool) {
	i := slices.IndexFunc(r.Sources, func(p api.SourcePlugin) bool { return p.Name == name })
	if i < 0 {
		return api.SourcePlugin{}, false
	}
	return r.Sources[i], true
}

// Sink returns the sink plugin called name.
func (r Registry) Sink(name string) (api.SinkPlugin, bool) {
	i := slices.IndexFunc(r.Sinks, func(p api.SinkPlugin) bool { return p.Name == name })
	if i < 0 {
		return api.SinkPlugin{}, false
	}
	return r.Sinks[i], true
}

// Transform returns the transform plugin called name.
func (r Registry) Transform(name string) (api.TransformPlugin, bool) {
	i := slices.IndexFunc(r.Transforms, func(p api.TransformPlugin) bool { return p.Name == name })
	if i < 0 {
		return api.TransformPlugin{}, false
	}
	return r.Transforms[i], true
}

// Predicate returns the predicate plugin called name.
func (r Registry) Predicate(name string) (api.PredicatePlugin, bool) {
	i := slices.IndexFunc(r.Predicates, func(p api.PredicatePlugin) bool { return p.Name == name })
	if i < 0 {
		return api.PredicatePlugin{}, false
	}
	return r.Predicates[i], true
}

// Validate rejects unnamed plugins, plugins without a constructor and two
// plugins of one kind with the same name.
func (r Registry) Validate() error {
	var errs []error
	check := func(kind string, names []string, hasNew []bool) {
		seen := map[string]bool{}
		for i, n := range names {
			switch {
			case n == "":
				errs = append(errs, fmt.Errorf("registry: %s plugin %d has no name", kind, i))
			case seen[n]:
				errs = append(errs, fmt.Errorf("registry: two %s plugins are called %q", kind, n))
			}
			if !hasNew[i] {
				errs = append(errs, fmt.Errorf("registry: %s plugin %q has no New", kind, n))
			}
			seen[n] = true
		}
	}
	names, news := collect(r.Sources, func(p api.SourcePlugin) (string, bool) { return p.Name, p.New != nil })
	check(kindSource, names, news)
	names, news = collect(r.Sinks, func(p api.SinkPlugin) (string, bool) { return p.Name, p.New != nil })
	check(kindSink, names, news)
	names, news = collect(r.Transforms, func(p api.TransformPlugin) (string, bool) { return p.Name, p.New != nil })
	check(kindTransform, names, news)
	names, news = collect(r.Predicates, func(p api.PredicatePlugin) (string, bool) { return p.Name, p.New != nil })
	check(kindPredicate, names, news)
	if len(r.Predicates) > 0 && r.PredicateWrap == nil {
		errs = append(errs, errors.New("registry: predicates need PredicateWrap"))
	}
	return errors.Join(errs...)
}

func collect[P any](ps []P, f func(P) (string, bool)) ([]string, []bool) {
	names, news := make([]string, len(ps)), make([]bool, len(ps))
	for i, p := range ps {
		names[i], news[i] = f(p)
	}
	return names, news
}

// sourceNames and the like list the names for "unknown plugin" messages.
func (r Registry) sourceNames() string {
	return joinNames(r.Sources, func(p api.SourcePlugin) string { return p.Name })
}

func (r Registry) sinkNames() string {
	return joinNames(r.Sinks, func(p api.SinkPlugin) string { return p.Name })
}

func (r Registry) transformNames() string {
	return joinNames(r.Transforms, func(p api.TransformPlugin) string { return p.Name })
}

func (r Registry) predicateNames() string {
	return joinNames(r.Predicates, func(p api.PredicatePlugin) string { return p.Name })
}

func joinNames[P any](ps []P, name func(P) string) string {
	if len(ps) == 0 {
		return "(none)"
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = name(p)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// plugins lists every plugin, sorted by type then name.
func (r Registry) plugins(version string) []PluginInfo {
	var out []PluginInfo
	for _, p := range r.Sources {
		out = append(out, PluginInfo{Class: PluginClass(kindSource, p.Name), Type: kindSource, Version: version, Summary: p.Summary})
	}
	for _, p := range r.Sinks {
		out = append(out, PluginInfo{Class: PluginClass(kindSink, p.Name), Type: kindSink, Version: version, Summary: p.Summary})
	}
	for _, p := range r.Transforms {
		out = append(out, PluginInfo{Class: PluginClass(kindTransform, p.Name), Type: kindTransform, Version: version, Summary: p.Summary})
	}
	for _, p := range r.Predicates {
		out = append(out, PluginInfo{Class: PluginClass(kindPredicate, p.Name), Type: kindPredicate, Version: version, Summary: p.Summary})
	}
	slices.SortStableFunc(out, func(a, b PluginInfo) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.Class, b.Class)
	})
	return out
}

// pluginConfig describes the fields of every plugin called name (or of the
// one plugin a class such as ferry.sink.file names), relative
// to the plugin's prefix, each in a group named after the plugin's kind
// (so a name shared by a source and a sink lists both, told apart by
// Group).
func (r Registry) pluginConfig(name string) ([]ConfigKeyInfo, error) {
	var out []ConfigKeyInfo
	found := false
	// A class (ferry.sink.file) names one plugin of one kind.
	only, short, isClass := ParsePluginClass(name)
	if isClass {
		name = short
	}
	kind := func(k string) bool { return !isClass || only == k }
	if p, ok := r.Source(name); ok && kind(kindSource) {
		found = true
		out = append(out, keyInfos(p.Spec, "", kindSource)...)
	}
	if p, ok := r.Sink(name); ok && kind(kindSink) {
		found = true
		out = append(out, keyInfos(p.Spec, "", kindSink)...)
	}
	if p, ok := r.Transform(name); ok && kind(kindTransform) {
		found = true
		out = append(out, keyInfos(p.Spec, "", kindTransform)...)
	}
	if p, ok := r.Predicate(name); ok && kind(kindPredicate) {
		found = true
		out = append(out, keyInfos(p.Spec, "", kindPredicate)...)
	}
	if !found {
		return nil, fmt.Errorf("plugin %q: %w", name, ErrNotFound)
	}
	if out == nil {
		out = []ConfigKeyInfo{}
	}
	return out, nil
}
