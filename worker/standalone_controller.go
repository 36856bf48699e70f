package worker

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
)

// connectorType is the Type of every Ferry connector: a pipeline led by a
// source.
const connectorType = "source"

// Plugins implements Controller.
func (s *Standalone) Plugins() []PluginInfo { return s.eng.plugins() }

// PluginConfig implements Controller.
func (s *Standalone) PluginConfig(plugin string) ([]ConfigKeyInfo, error) {
	return s.eng.pluginConfig(plugin)
}

// Validate implements Controller.
func (s *Standalone) Validate(_ context.Context, plugin string, config map[string]string) (ConfigInfos, error) {
	return s.eng.validateConfig(plugin, config)
}

// Connectors implements Controller: every stored connector, sorted.
func (s *Standalone) Connectors(ctx context.Context) ([]string, error) { return s.eng.connectors(ctx) }

// CreateConnector implements Controller.
func (s *Standalone) CreateConnector(ctx context.Context, name string, config map[string]string, initial state.TargetState) (ConnectorInfo, error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	def, err := s.eng.createConnector(ctx, name, config, initial)
	if err != nil {
		return ConnectorInfo{}, err
	}
	s.apply(def)
	return s.info(def), nil
}

// PutConnectorConfig implements Controller. Updating a connector restarts
// its tasks with the new config, in its current target state; an
// unchanged config changes nothing.
func (s *Standalone) PutConnectorConfig(ctx context.Context, name string, config map[string]string) (ConnectorInfo, bool, error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	def, created, changed, err := s.eng.putConnectorConfig(ctx, name, config)
	if err != nil {
		return ConnectorInfo{}, false, err
	}
	if changed {
		s.apply(def)
	}
	return s.info(def), created, nil
}

// PatchConnectorConfig implements Controller.
func (s *Standalone) PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (ConnectorInfo, error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	def, changed, err := s.eng.patchConnectorConfig(ctx, name, patch)
	if err != nil {
		return ConnectorInfo{}, err
	}
	if changed {
		s.apply(def)
	}
	return s.info(def), nil
}

// DeleteConnector implements Controller: it stops the tasks (committing
// their offsets), then deletes the definition and status. Offsets are
// kept, as the store documents.
func (s *Standalone) DeleteConnector(ctx context.Context, name string) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if _, err := s.eng.connector(ctx, name); err != nil {
		return err
	}
	s.stopConnector(name)
	s.eng.keepLatencies(func(conn string) bool { return conn != name })
	if err := s.eng.deleteConnector(ctx, name); err != nil {
		return err
	}
	s.eng.forgetTraces(name)
	return nil
}

// ConnectorInfo implements Controller.
func (s *Standalone) ConnectorInfo(ctx context.Context, name string) (ConnectorInfo, error) {
	def, err := s.eng.connector(ctx, name)
	if err != nil {
		return ConnectorInfo{}, err
	}
	return s.info(def), nil
}

// ConnectorStatus implements Controller. States come from the store;
// tasks are those of the connector's current incarnation (none while
// STOPPED), or every stored one while the worker is not running.
//
// States, as Kafka Connect reports them: the connector is RUNNING, PAUSED
// or STOPPED as its target says, FAILED (with trace) when its config no
// longer validates or its source could not plan tasks, UNASSIGNED when no
// worker runs it (after shutdown). A task is UNASSIGNED until it starts,
// RUNNING, PAUSED, FAILED with the error as trace, RESTARTING (Ferry: the
// wait before an automatic restart, trace = the last error) or FINISHED
// (Ferry: a finite source reached its end and everything was committed;
// the connector stays RUNNING).
func (s *Standalone) ConnectorStatus(ctx context.Context, name string) (ConnectorStateInfo, error) {
	if _, err := s.eng.connector(ctx, name); err != nil {
		return ConnectorStateInfo{}, err
	}
	sts, err := s.cfg.Store.Statuses(ctx, name)
	if err != nil {
		return ConnectorStateInfo{}, err
	}
	out := ConnectorStateInfo{
		Name:      name,
		Connector: StateInfo{State: string(state.StateUnassigned), WorkerID: s.cfg.WorkerID},
		Tasks:     []TaskStateInfo{},
		Type:      connectorType,
	}
	n := -1
	var lags map[int]map[string]int64
	s.mu.Lock()
	if c, ok := s.conns[name]; ok {
		n = len(c.tasks)
		lags = tasksLag(c.tasks)
	}
	s.mu.Unlock()
	for _, st := range sts {
		switch {
		case st.Task == state.ConnectorTask:
			out.Connector = StateInfo{State: string(st.State), WorkerID: st.WorkerID, Trace: st.Trace}
		case n < 0 || st.Task < n:
			ts := taskStateOf(st)
			ts.Lag = lags[st.Task]
			out.Tasks = append(out.Tasks, ts)
		}
	}
	// A task without a status yet (just planned) is UNASSIGNED.
	for i := range max(n, 0) {
		if !slices.ContainsFunc(out.Tasks, func(t TaskStateInfo) bool { return t.ID == i }) {
			out.Tasks = append(out.Tasks, TaskStateInfo{ID: i, State: string(state.StateUnassigned), WorkerID: s.cfg.WorkerID})
		}
	}
	slices.SortFunc(out.Tasks, func(a, b TaskStateInfo) int { return a.ID - b.ID })
	return out, nil
}

// TaskConfigs implements Controller: each task's full config, secrets
// redacted; none while the connector is STOPPED.
func (s *Standalone) TaskConfigs(ctx context.Context, name string) ([]TaskInfo, error) {
	if _, err := s.eng.connector(ctx, name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []TaskInfo{}
	c, ok := s.conns[name]
	if !ok {
		return out, nil
	}
	for _, t := range c.tasks {
		out = append(out, TaskInfo{ID: TaskID{Connector: name, Task: t.index}, Config: c.v.redact(t.raw)})
	}
	return out, nil
}

// TaskStatus implements Controller.
func (s *Standalone) TaskStatus(ctx context.Context, name string, task int) (TaskStateInfo, error) {
	st, err := s.ConnectorStatus(ctx, name)
	return taskState(st, err, name, task)
}

// taskState picks one task's line out of a connector's status.
func taskState(st ConnectorStateInfo, err error, name string, task int) (TaskStateInfo, error) {
	if err != nil {
		return TaskStateInfo{}, err
	}
	for _, t := range st.Tasks {
		if t.ID == task {
			return t, nil
		}
	}
	return TaskStateInfo{}, fmt.Errorf("task %s/%d: %w", name, task, ErrNotFound)
}

// RestartConnector implements Controller. A Ferry connector has no process
// of its own besides planning, so restarting it re-validates and re-plans
// when it FAILED; a healthy connector is left alone unless includeTasks
// asks for its tasks (with onlyFailed, only FAILED ones). Tasks restart
// only while the connector is RUNNING. The returned status is read after
// the restarts were started.
func (s *Standalone) RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (ConnectorStateInfo, error) {
	s.opMu.Lock()
	def, err := s.eng.connector(ctx, name)
	if err != nil {
		s.opMu.Unlock()
		return ConnectorStateInfo{}, err
	}
	s.mu.Lock()
	c, ok := s.conns[name]
	running := s.running
	s.mu.Unlock()
	switch {
	case !running || !ok:
	case c.failed != "":
		s.apply(def)
	case includeTasks && def.Target == state.TargetRunning:
		failed := map[int]bool{}
		if onlyFailed {
			sts, err := s.cfg.Store.Statuses(ctx, name)
			if err != nil {
				s.opMu.Unlock()
				return ConnectorStateInfo{}, err
			}
			for _, st := range sts {
				failed[st.Task] = st.State == state.StateFailed
			}
		}
		for _, t := range c.tasks {
			if !onlyFailed || failed[t.index] {
				s.restartSlot(c, t)
			}
		}
	}
	s.opMu.Unlock()
	return s.ConnectorStatus(ctx, name)
}

// RestartTask implements Controller. It restarts the task when the
// connector is RUNNING and does nothing otherwise.
func (s *Standalone) RestartTask(ctx context.Context, name string, task int) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	def, err := s.eng.connector(ctx, name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	c, ok := s.conns[name]
	running := s.running
	s.mu.Unlock()
	if !running || !ok {
		return nil
	}
	if task < 0 || task >= len(c.tasks) {
		return fmt.Errorf("task %s/%d: %w", name, task, ErrNotFound)
	}
	if def.Target == state.TargetRunning && c.failed == "" {
		s.restartSlot(c, c.tasks[task])
	}
	return nil
}

// SetTargetState implements Controller. PAUSED and STOPPED both stop the
// tasks softly (offsets committed); STOPPED also drops their configs.
func (s *Standalone) SetTargetState(ctx context.Context, name string, target state.TargetState) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	def, changed, err := s.eng.setTargetState(ctx, name, target)
	if err != nil || !changed {
		return err
	}
	s.apply(def)
	return nil
}

// apply makes the running connector match def: it stops the current
// incarnation and starts def's. The caller holds opMu. Before Run and
// after it returned it does nothing: Run loads what the store holds.
func (s *Standalone) apply(def state.Connector) {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	if !running {
		return
	}
	s.stopConnector(def.Name)
	s.start(def)
}

// stopConnector stops name's tasks and forgets its incarnation. The
// caller holds opMu.
func (s *Standalone) stopConnector(name string) {
	s.mu.Lock()
	c, ok := s.conns[name]
	delete(s.conns, name)
	s.mu.Unlock()
	if ok {
		s.stopTasks(c)
	}
}

// info renders a definition with secrets redacted and the tasks of its
// current incarnation.
func (s *Standalone) info(def state.Connector) ConnectorInfo {
	v := s.cfg.validate(def.Config)
	out := ConnectorInfo{Name: def.Name, Config: v.redact(def.Config), Tasks: []TaskID{}, Type: connectorType}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[def.Name]; ok {
		for _, t := range c.tasks {
			out.Tasks = append(out.Tasks, TaskID{Connector: def.Name, Task: t.index})
		}
	}
	return out
}

// withName returns a copy of config whose name key is name; a different
// name in config is a client mistake.
func withName(name string, config map[string]string) (map[string]string, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: connector name is required", ErrBadRequest)
	}
	if n, ok := config[keyName]; ok && n != name {
		return nil, fmt.Errorf("%w: config name %q does not match connector name %q", ErrBadRequest, n, name)
	}
	out := maps.Clone(config)
	if out == nil {
		out = map[string]string{}
	}
	out[keyName] = name
	return out, nil
}

func checkTarget(t state.TargetState) error {
	switch t {
	case state.TargetRunning, state.TargetPaused, state.TargetStopped:
		return nil
	}
	return fmt.Errorf("%w: target state must be RUNNING, PAUSED or STOPPED, got %q", ErrBadRequest, t)
}

// Offsets implements Controller.
func (s *Standalone) Offsets(ctx context.Context, name string) (ConnectorOffsets, error) {
	return s.eng.offsets(ctx, name)
}

// AlterOffsets implements Controller.
func (s *Standalone) AlterOffsets(ctx context.Context, name string, offsets ConnectorOffsets) error {
	m, err := decodeOffsets(offsets)
	if err != nil {
		return err
	}
	return s.changeOffsets(ctx, name, m)
}

// ResetOffsets implements Controller.
func (s *Standalone) ResetOffsets(ctx context.Context, name string) error {
	return s.changeOffsets(ctx, name, nil)
}

// changeOffsets writes offsets (nil: delete all) while name is STOPPED.
// Holding opMu keeps the connector STOPPED for the whole write.
func (s *Standalone) changeOffsets(ctx context.Context, name string, m map[string]api.Position) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	return s.eng.changeOffsets(ctx, name, m)
}

// PreviewTransforms implements Controller. It validates and builds the
// chain with the code a task uses, applies it to each event in order
// (stateful transforms see them as a task would) and closes it.
func (s *Standalone) PreviewTransforms(ctx context.Context, config map[string]string, events []api.Event) ([]PreviewResult, error) {
	return previewTransforms(ctx, s.cfg.Registry, config, events)
}
