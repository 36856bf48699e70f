package worker

import (
	"fmt"
	"strings"
)

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

// ConnectorClassKey is Kafka Connect's config key naming a connector's
// class. Ferry never stores it: on input ApplyConnectorClass turns it into
// source= or sink=, and the REST API adds PipelineClass to every config it
// returns.
const ConnectorClassKey = "connector.class"

// ApplyConnectorClass resolves config's connector.class, if any, into the
// source or sink it names and removes it. plugins are the worker's
// (Controller.Plugins). The class may be a plugin class (ferry.sink.file),
// a short name only one side can be (generator), a short name both sides
// share (file) when the config leaves just one of them unset, or
// PipelineClass, which sets nothing; anything else is ErrBadRequest.
func ApplyConnectorClass(plugins []PluginInfo, config map[string]string) error {
	class, ok := config[ConnectorClassKey]
	if !ok {
		return nil
	}
	key, value, err := ConnectorClassTarget(plugins, class, config[keySource], config[keySink])
	if err != nil {
		return err
	}
	delete(config, ConnectorClassKey)
	if key != "" {
		config[key] = value
	}
	return nil
}

// ConnectorClassTarget says which key (source or sink) the connector class
// sets and to what, given the config's source and sink; key is "" when it
// sets nothing (PipelineClass, or the plugin the config names already).
func ConnectorClassTarget(plugins []PluginInfo, class, source, sink string) (key, value string, err error) {
	bad := func(format string, args ...any) (string, string, error) {
		return "", "", &KindError{Kind: ErrBadRequest, Msg: fmt.Sprintf(format, args...)}
	}
	class = strings.TrimSpace(class)
	if class == PipelineClass {
		return "", "", nil
	}
	name, given := class, ""
	if kind, short, ok := ParsePluginClass(class); ok {
		if kind != kindSource && kind != kindSink {
			return bad("%s %.80q is a %s, not a source or sink plugin", ConnectorClassKey, class, kind)
		}
		name, given = short, kind
	}
	isSource, isSink := false, false
	var sources, sinks []string
	for _, p := range plugins {
		_, short, _ := ParsePluginClass(p.Class)
		switch p.Type {
		case kindSource:
			sources = append(sources, p.Class)
			isSource = isSource || short == name && given != kindSink
		case kindSink:
			sinks = append(sinks, p.Class)
			isSink = isSink || short == name && given != kindSource
		}
	}
	switch {
	case !isSource && !isSink:
		return bad("%s %.80q names no Ferry source or sink plugin (nor %s); sources: %s; sinks: %s",
			ConnectorClassKey, class, PipelineClass, strings.Join(sources, ", "), strings.Join(sinks, ", "))
	case isSource && source == name, isSink && sink == name:
		return "", "", nil
	case isSource && isSink && source == "" && sink == "":
		return bad("%s %.80q names both a source and a sink plugin: write %s or %s (or set source= and sink=)",
			ConnectorClassKey, class, PluginClass(kindSource, name), PluginClass(kindSink, name))
	case isSource && source == "":
		return keySource, name, nil
	case isSink && sink == "":
		return keySink, name, nil
	}
	return bad("%s %.80q is neither the config's source (%q) nor its sink (%q)", ConnectorClassKey, class, source, sink)
}
