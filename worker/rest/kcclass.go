package rest

import (
	"context"
	"maps"

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
const connectorClassKey = worker.ConnectorClassKey

// applyConnectorClass resolves config's connector.class into its source or
// sink key and removes it (worker.ApplyConnectorClass).
func (s *Server) applyConnectorClass(config map[string]string) error {
	return worker.ApplyConnectorClass(s.cfg.Controller.Plugins(), config)
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
	key, value, err := worker.ConnectorClassTarget(s.cfg.Controller.Plugins(), *class, side("source"), side("sink"))
	if err != nil {
		return err
	}
	if key != "" {
		patch[key] = &value
	}
	return nil
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
