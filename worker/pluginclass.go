package worker

import "strings"

// Plugin classes: GET /connector-plugins names every plugin with a class
// of its own, "ferry.<kind>.<name>" (ferry.source.file, ferry.sink.file,
// ferry.transform.drop, ferry.predicate.pattern), because a source and a
// sink, or a sink and a transform, may share a name and Kafka Connect's
// clients key plugins by class. Config keys (source=, sink=,
// transforms.x.type=) keep the short names; the class is accepted wherever
// a plugin is named in a path, and as connector.class.

// ClassPrefix starts every plugin class.
const ClassPrefix = "ferry."

// PipelineClass is the connector.class Ferry returns in config responses: a
// Ferry connector is one pipeline (source → transforms → sink), not a
// class, and Kafka Connect's clients require the key.
const PipelineClass = "ferry.pipeline"

// Class words of the plugin kinds.
const (
	classSource    = "source"
	classSink      = "sink"
	classTransform = "transform"
	classPredicate = "predicate"
)

// classWord maps PluginInfo.Type to its class word and back.
var classWord = map[string]string{
	kindSource: classSource, kindSink: classSink, kindTransform: classTransform, kindPredicate: classPredicate,
}

// PluginClass is the class of the plugin of type kind (PluginInfo.Type:
// source, sink, transformation, predicate) called name.
func PluginClass(kind, name string) string {
	return ClassPrefix + classWord[kind] + "." + name
}

// ParsePluginClass splits a plugin class into its PluginInfo.Type and
// short name; ok is false for anything that is not a Ferry plugin class
// (a short name, say).
func ParsePluginClass(class string) (kind, name string, ok bool) {
	rest, found := strings.CutPrefix(class, ClassPrefix)
	if !found {
		return "", "", false
	}
	word, name, found := strings.Cut(rest, ".")
	if !found || name == "" {
		return "", "", false
	}
	for k, w := range classWord {
		if w == word {
			return k, name, true
		}
	}
	return "", "", false
}
