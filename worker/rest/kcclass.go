package rest

import (
	"context"
	"maps"
	"strings"

	"github.com/ferryhq/ferry/worker"
)

// Kafka Connect's clients read connector.class from every config and send
// it in every config they write; some raise without it. Ferry's configs
// name a source and a sink instead, so the REST layer translates:
//
//   - on input, connector.class names the source or the sink: a plugin
//     class (ferry.source.file), or a short name that only one of them can
//     be (generator is a source; file names the side the config leaves
//     unset). worker.PipelineClass, which Ferry returns, is dropped, so a
//     config read from the API can be written back unchanged. The key is
//     never stored.
//   - on output, every config carries connector.class = worker.PipelineClass.
const connectorClassKey = "connector.class"

// applyConnectorClass resolves config's connector.class into its source or
// sink key and removes it.
func (s *Server) applyConnectorClass(config map[string]string) error {
	class, ok := config[connectorClassKey]
	if !ok {
		return nil
	}
	key, value, err := s.classTarget(class, config["source"], config["sink"])
	if err != nil {
		return err
	}
	delete(config, connectorClassKey)
	if key != "" {
		config[key] = value
	}
	return nil
}

// applyPatchClass does what applyConnectorClass does for a PATCH body,
// judged against the stored config the patch applies to.
func (s *Server) applyPatchClass(ctx context.Context, name string, patch map[string]*string) error {
	class, ok := patch[connectorClassKey]
	if !ok {
		return nil
	}
	delete(patch, connectorClassKey)
	if class == nil {
		return nil // nothing stored to delete
	}
	info, err := s.cfg.Controller.ConnectorInfo(ctx, name)
	if err != nil {
		return err
	}
	side := func(k string) string {
		if v, ok := patch[k]; ok {
			if v == nil {
				return ""
			}
			return *v
		}
		return info.Config[k]
	}
	key, value, err := s.classTarget(*class, side("source"), side("sink"))
	if err != nil {
		return err
	}
	if key != "" {
		patch[key] = &value
	}
	return nil
}

// classTarget says which key (source or sink) connector.class sets and to
// what; key is "" when it sets nothing (the pipeline class, or the plugin
// the config names already).
func (s *Server) classTarget(class, source, sink string) (key, value string, err error) {
	class = strings.TrimSpace(class)
	if class == worker.PipelineClass {
		return "", "", nil
	}
	name, given := class, ""
	if kind, short, ok := worker.ParsePluginClass(class); ok {
		if kind != "source" && kind != "sink" {
			return "", "", badRequest("connector.class %.80q is a %s, not a source or sink plugin", class, kind)
		}
		name, given = short, kind
	}
	isSource, isSink := false, false
	var sources, sinks []string
	for _, p := range s.cfg.Controller.Plugins() {
		_, short, _ := worker.ParsePluginClass(p.Class)
		switch p.Type {
		case "source":
			sources = append(sources, p.Class)
			isSource = isSource || short == name && given != "sink"
		case "sink":
			sinks = append(sinks, p.Class)
			isSink = isSink || short == name && given != "source"
		}
	}
	switch {
	case !isSource && !isSink:
		return "", "", badRequest("connector.class %.80q names no Ferry source or sink plugin (nor %s); sources: %s; sinks: %s",
			class, worker.PipelineClass, strings.Join(sources, ", "), strings.Join(sinks, ", "))
	case isSource && source == name, isSink && sink == name:
		return "", "", nil
	case isSource && isSink && source == "" && sink == "":
		return "", "", badRequest("connector.class %.80q names both a source and a sink plugin: write %s or %s (or set source= and sink=)",
			class, worker.PluginClass("source", name), worker.PluginClass("sink", name))
	case isSource && source == "":
		return "source", name, nil
	case isSink && sink == "":
		return "sink", name, nil
	}
	return "", "", badRequest("connector.class %.80q is neither the config's source (%q) nor its sink (%q)", class, source, sink)
}

// withClass is a config as the API shows it: with connector.class.
func withClass(config map[string]string) map[string]string {
	out := make(map[string]string, len(config)+1)
	maps.Copy(out, config)
	out[connectorClassKey] = worker.PipelineClass
	return out
}

// infoWithClass is info as the API shows it: its config with
// connector.class.
func infoWithClass(info worker.ConnectorInfo) worker.ConnectorInfo {
	info.Config = withClass(info.Config)
	return info
}

// validatePlugin maps the {plugin} of the validate route to the short name
// the Controller takes; a class also sets the side it names in config when
// the config leaves it unset.
func validatePlugin(plugin string, config map[string]string) (string, error) {
	kind, name, ok := worker.ParsePluginClass(plugin)
	if !ok {
		return plugin, nil
	}
	if kind != "source" && kind != "sink" {
		return "", notFound("connector plugin %q: a %s is not a connector plugin", plugin, kind)
	}
	if config[kind] == "" {
		config[kind] = name
	}
	return name, nil
}
