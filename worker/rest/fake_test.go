package rest_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/workertest"
)

// restFake is an in-memory worker.Controller with just enough behaviour to
// drive every REST route and error path deterministically. Like the real
// worker it redacts secret fields (keys ending in ".token") in everything
// it returns. A few connector names trigger faults:
//
//	rebalancing  CreateConnector fails with ErrRebalancing
//	broken       ConnectorStatus fails with an unclassified error (500)
//	exploding    ConnectorInfo panics
//	slow         ConnectorStatus blocks until ctx ends
type restFake struct {
	mu         sync.Mutex
	connectors map[string]*restFakeConnector
	metrics    []worker.TaskMetrics
	preview    *worker.Standalone // built on first use
}

type restFakeConnector struct {
	config  map[string]string
	target  state.TargetState
	offsets []worker.PartitionOffset
}

func newRestFake() *restFake {
	return &restFake{connectors: map[string]*restFakeConnector{}}
}

const restFakeWorker = "127.0.0.1:8083"

var errFakeBroken = errors.New("store unavailable: connection refused")

func (f *restFake) WorkerID() string { return restFakeWorker }

func (f *restFake) Plugins() []worker.PluginInfo {
	return []worker.PluginInfo{
		{Class: "generator", Type: "source", Version: "0.1.0", Summary: "Generates synthetic events."},
		{Class: "file", Type: "sink", Version: "0.1.0", Summary: "Appends events to a JSON-lines file."},
		{Class: "filter", Type: "transformation", Version: "0.1.0", Summary: "Drops events that do not match a pattern."},
	}
}

func restStrPtr(s string) *string { return &s }

func (f *restFake) PluginConfig(plugin string) ([]worker.ConfigKeyInfo, error) {
	switch plugin {
	case "file":
		return []worker.ConfigKeyInfo{
			{Name: "path", Type: "string", Required: true, Importance: "high", Documentation: "File to append to.", Dependents: []string{}},
			{Name: "token", Type: "string", DefaultValue: restStrPtr(""), Importance: "low", Documentation: "Access token.", Secret: true, Dependents: []string{}},
		}, nil
	case "generator":
		return []worker.ConfigKeyInfo{
			{Name: "count", Type: "int", DefaultValue: restStrPtr("0"), Importance: "medium", Documentation: "Events to generate; 0 is unbounded.", Dependents: []string{}},
		}, nil
	}
	return nil, fmt.Errorf("plugin %q: %w", plugin, worker.ErrNotFound)
}

// check validates the envelope the way the real worker reports problems:
// every bad field at once, with full key names.
func (f *restFake) check(config map[string]string) error {
	var errs []api.FieldError
	if config["source"] == "" {
		errs = append(errs, api.FieldError{Field: "source", Message: "is required"})
	} else if config["source"] != "generator" {
		errs = append(errs, api.FieldError{Field: "source", Message: fmt.Sprintf("unknown source plugin %q", config["source"])})
	}
	if config["sink"] == "" {
		errs = append(errs, api.FieldError{Field: "sink", Message: "is required"})
	} else if config["sink.path"] == "" {
		errs = append(errs, api.FieldError{Field: "sink.path", Message: "is required"})
	}
	if errs != nil {
		return &api.ValidationError{Fields: errs}
	}
	return nil
}

func restRedact(config map[string]string) map[string]string {
	out := make(map[string]string, len(config))
	for k, v := range config {
		if len(k) > 6 && k[len(k)-6:] == ".token" && !api.IsReference(v) {
			v = api.Redacted
		}
		out[k] = v
	}
	return out
}

func (f *restFake) Validate(ctx context.Context, plugin string, config map[string]string) (worker.ConfigInfos, error) {
	if plugin != "" && plugin != config["source"] && plugin != config["sink"] {
		return worker.ConfigInfos{}, fmt.Errorf("%w: plugin %q is neither the source nor the sink of this config", worker.ErrBadRequest, plugin)
	}
	out := worker.ConfigInfos{Name: plugin, Groups: []string{"Common", "Source", "Sink"}}
	var fieldErrs map[string][]string
	if err := f.check(config); err != nil {
		fieldErrs = map[string][]string{}
		for _, fe := range err.(*api.ValidationError).Fields {
			fieldErrs[fe.Field] = append(fieldErrs[fe.Field], fe.Message)
		}
	}
	shown := restRedact(config)
	for _, key := range []string{"source", "sink", "sink.path", "sink.token"} {
		var value *string
		if v, ok := shown[key]; ok {
			value = &v
		}
		errs := fieldErrs[key]
		if errs == nil {
			errs = []string{}
		}
		out.ErrorCount += len(fieldErrs[key])
		out.Configs = append(out.Configs, worker.ConfigInfo{
			Definition: worker.ConfigKeyInfo{Name: key, Type: "string", Required: key != "sink.token", Importance: "high", Dependents: []string{}, Secret: key == "sink.token"},
			Value:      worker.ConfigValueInfo{Name: key, Value: value, RecommendedValues: []string{}, Errors: errs, Visible: true},
		})
	}
	return out, nil
}

func (f *restFake) Connectors(ctx context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.connectors))
	for n := range f.connectors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func (f *restFake) infoLocked(name string, c *restFakeConnector) worker.ConnectorInfo {
	tasks := []worker.TaskID{}
	if c.target != state.TargetStopped {
		tasks = append(tasks, worker.TaskID{Connector: name, Task: 0})
	}
	return worker.ConnectorInfo{Name: name, Config: restRedact(c.config), Tasks: tasks, Type: "source"}
}

func (f *restFake) lookup(name string) (*restFakeConnector, error) {
	c, ok := f.connectors[name]
	if !ok {
		return nil, fmt.Errorf("connector %q: %w", name, worker.ErrNotFound)
	}
	return c, nil
}

func (f *restFake) CreateConnector(ctx context.Context, name string, config map[string]string, initial state.TargetState) (worker.ConnectorInfo, error) {
	if name == "rebalancing" {
		return worker.ConnectorInfo{}, worker.ErrRebalancing
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.connectors[name]; ok {
		return worker.ConnectorInfo{}, fmt.Errorf("connector %q: %w", name, worker.ErrExists)
	}
	if err := f.check(config); err != nil {
		return worker.ConnectorInfo{}, err
	}
	c := &restFakeConnector{config: config, target: initial}
	f.connectors[name] = c
	return f.infoLocked(name, c), nil
}

func (f *restFake) PutConnectorConfig(ctx context.Context, name string, config map[string]string) (worker.ConnectorInfo, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(config); err != nil {
		return worker.ConnectorInfo{}, false, err
	}
	c, ok := f.connectors[name]
	if !ok {
		c = &restFakeConnector{target: state.TargetRunning}
		f.connectors[name] = c
	}
	c.config = config
	return f.infoLocked(name, c), !ok, nil
}

func (f *restFake) PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (worker.ConnectorInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return worker.ConnectorInfo{}, err
	}
	merged := make(map[string]string, len(c.config))
	for k, v := range c.config {
		merged[k] = v
	}
	for k, v := range patch {
		if v == nil {
			delete(merged, k)
		} else {
			merged[k] = *v
		}
	}
	if err := f.check(merged); err != nil {
		return worker.ConnectorInfo{}, err
	}
	c.config = merged
	return f.infoLocked(name, c), nil
}

func (f *restFake) DeleteConnector(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(name); err != nil {
		return err
	}
	delete(f.connectors, name)
	return nil
}

func (f *restFake) ConnectorInfo(ctx context.Context, name string) (worker.ConnectorInfo, error) {
	if name == "exploding" {
		panic("fake controller exploded")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return worker.ConnectorInfo{}, err
	}
	return f.infoLocked(name, c), nil
}

func (f *restFake) ConnectorStatus(ctx context.Context, name string) (worker.ConnectorStateInfo, error) {
	switch name {
	case "broken":
		return worker.ConnectorStateInfo{}, errFakeBroken
	case "slow":
		<-ctx.Done()
		return worker.ConnectorStateInfo{}, fmt.Errorf("reading status of %q: %w", name, ctx.Err())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return worker.ConnectorStateInfo{}, err
	}
	st := worker.ConnectorStateInfo{
		Name:      name,
		Connector: worker.StateInfo{State: string(c.target), WorkerID: restFakeWorker},
		Tasks:     []worker.TaskStateInfo{},
		Type:      "source",
	}
	if c.target != state.TargetStopped {
		st.Tasks = append(st.Tasks, worker.TaskStateInfo{ID: 0, State: string(c.target), WorkerID: restFakeWorker})
	}
	return st, nil
}

func (f *restFake) TaskConfigs(ctx context.Context, name string) ([]worker.TaskInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if c.target == state.TargetStopped {
		return nil, nil
	}
	return []worker.TaskInfo{{ID: worker.TaskID{Connector: name, Task: 0}, Config: restRedact(c.config)}}, nil
}

func (f *restFake) TaskStatus(ctx context.Context, name string, task int) (worker.TaskStateInfo, error) {
	st, err := f.ConnectorStatus(ctx, name)
	if err != nil {
		return worker.TaskStateInfo{}, err
	}
	for _, t := range st.Tasks {
		if t.ID == task {
			return t, nil
		}
	}
	return worker.TaskStateInfo{}, fmt.Errorf("task %s-%d: %w", name, task, worker.ErrNotFound)
}

func (f *restFake) RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (worker.ConnectorStateInfo, error) {
	st, err := f.ConnectorStatus(ctx, name)
	if err != nil {
		return worker.ConnectorStateInfo{}, err
	}
	if includeTasks {
		for i := range st.Tasks {
			if !onlyFailed {
				st.Tasks[i].State = "RESTARTING"
			}
		}
	}
	st.Connector.State = "RESTARTING"
	return st, nil
}

func (f *restFake) RestartTask(ctx context.Context, name string, task int) error {
	_, err := f.TaskStatus(ctx, name, task)
	return err
}

func (f *restFake) SetTargetState(ctx context.Context, name string, target state.TargetState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return err
	}
	c.target = target
	return nil
}

func (f *restFake) Offsets(ctx context.Context, name string) (worker.ConnectorOffsets, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return worker.ConnectorOffsets{}, err
	}
	return worker.ConnectorOffsets{Offsets: append([]worker.PartitionOffset(nil), c.offsets...)}, nil
}

func (f *restFake) stopped(name string) (*restFakeConnector, error) {
	c, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if c.target != state.TargetStopped {
		return nil, fmt.Errorf("connector %q is %s: %w", name, c.target, worker.ErrNotStopped)
	}
	return c, nil
}

func (f *restFake) AlterOffsets(ctx context.Context, name string, offs worker.ConnectorOffsets) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.stopped(name)
	if err != nil {
		return err
	}
	for _, po := range offs.Offsets {
		i := sort.Search(len(c.offsets), func(i int) bool { return c.offsets[i].Partition["partition"] >= po.Partition["partition"] })
		found := i < len(c.offsets) && c.offsets[i].Partition["partition"] == po.Partition["partition"]
		switch {
		case po.Offset == nil && found:
			c.offsets = append(c.offsets[:i], c.offsets[i+1:]...)
		case po.Offset == nil:
		case found:
			c.offsets[i] = po
		default:
			c.offsets = append(c.offsets[:i], append([]worker.PartitionOffset{po}, c.offsets[i:]...)...)
		}
	}
	return nil
}

func (f *restFake) ResetOffsets(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.stopped(name)
	if err != nil {
		return err
	}
	c.offsets = nil
	return nil
}

// TaskMetrics makes restFake a worker.TaskMetricsSource.
func (f *restFake) TaskMetrics() []worker.TaskMetrics {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]worker.TaskMetrics(nil), f.metrics...)
}

var (
	_ worker.Controller        = (*restFake)(nil)
	_ worker.TaskMetricsSource = (*restFake)(nil)
)

// PreviewTransforms delegates to a real worker over previewRegistry, so the
// golden files show the real preview's answers.
func (f *restFake) PreviewTransforms(ctx context.Context, config map[string]string, events []api.Event) ([]worker.PreviewResult, error) {
	f.mu.Lock()
	if f.preview == nil {
		w, err := worker.New(worker.Config{WorkerID: restFakeWorker, Store: state.NewMemory(), Registry: workertest.PreviewRegistry()})
		if err != nil {
			f.mu.Unlock()
			return nil, err
		}
		f.preview = w
	}
	w := f.preview
	f.mu.Unlock()
	return w.PreviewTransforms(ctx, config, events)
}
