package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/offset"
)

// Reads are answered from this worker's replica of the store; writes of
// connector state go to the leader (run here when this worker leads,
// forwarded over HTTP otherwise) and then wake the loop.

// Plugins implements Controller.
func (d *Distributed) Plugins() []PluginInfo { return d.eng.Plugins() }

// PluginConfig implements Controller.
func (d *Distributed) PluginConfig(plugin string) ([]ConfigKeyInfo, error) {
	return d.eng.PluginConfig(plugin)
}

// Validate implements Controller.
func (d *Distributed) Validate(ctx context.Context, plugin string, config map[string]string) (ConfigInfos, error) {
	return d.eng.Validate(ctx, plugin, config)
}

// PreviewTransforms implements Controller with the standalone's preview.
func (d *Distributed) PreviewTransforms(ctx context.Context, config map[string]string, events []api.Event) ([]PreviewResult, error) {
	return d.eng.PreviewTransforms(ctx, config, events)
}

// Connectors implements Controller.
func (d *Distributed) Connectors(ctx context.Context) ([]string, error) { return d.eng.Connectors(ctx) }

// Offsets implements Controller.
func (d *Distributed) Offsets(ctx context.Context, name string) (ConnectorOffsets, error) {
	return d.eng.Offsets(ctx, name)
}

// AlterOffsets implements Controller. The operator's override is a store
// write any worker may make; the connector must be STOPPED.
func (d *Distributed) AlterOffsets(ctx context.Context, name string, offsets ConnectorOffsets) error {
	return d.eng.AlterOffsets(ctx, name, offsets)
}

// ResetOffsets implements Controller.
func (d *Distributed) ResetOffsets(ctx context.Context, name string) error {
	return d.eng.ResetOffsets(ctx, name)
}

// ConnectorInfo implements Controller: the stored config, redacted, and
// the published tasks.
func (d *Distributed) ConnectorInfo(ctx context.Context, name string) (ConnectorInfo, error) {
	def, err := d.eng.connector(ctx, name)
	if err != nil {
		return ConnectorInfo{}, err
	}
	return d.info(ctx, def), nil
}

func (d *Distributed) info(ctx context.Context, def offset.Connector) ConnectorInfo {
	v := d.eng.cfg.validate(def.Config)
	out := ConnectorInfo{Name: def.Name, Config: v.redact(def.Config), Tasks: []TaskID{}, Type: connectorType}
	ts, _, err := readTaskSet(ctx, d.st, def.Name)
	if err == nil && ts.Revision == def.Revision {
		for i := range ts.Configs {
			out.Tasks = append(out.Tasks, TaskID{Connector: def.Name, Task: i})
		}
	}
	return out
}

// TaskConfigs implements Controller: the published task configs, redacted.
func (d *Distributed) TaskConfigs(ctx context.Context, name string) ([]TaskInfo, error) {
	def, err := d.eng.connector(ctx, name)
	if err != nil {
		return nil, err
	}
	ts, _, err := readTaskSet(ctx, d.st, name)
	if err != nil {
		return nil, err
	}
	out := []TaskInfo{}
	if ts.Revision != def.Revision {
		return out, nil // not planned yet
	}
	v := d.eng.cfg.validate(def.Config)
	for i, raw := range ts.Configs {
		out = append(out, TaskInfo{ID: TaskID{Connector: name, Task: i}, Config: v.redact(raw)})
	}
	return out, nil
}

// ConnectorStatus implements Controller: the statuses every worker wrote,
// for the tasks of the published set; a task nobody reported yet is
// UNASSIGNED.
func (d *Distributed) ConnectorStatus(ctx context.Context, name string) (ConnectorStateInfo, error) {
	def, err := d.eng.connector(ctx, name)
	if err != nil {
		return ConnectorStateInfo{}, err
	}
	sts, err := d.st.Statuses(ctx, name)
	if err != nil {
		return ConnectorStateInfo{}, err
	}
	ts, _, err := readTaskSet(ctx, d.st, name)
	if err != nil {
		return ConnectorStateInfo{}, err
	}
	n := 0
	if ts.Revision == def.Revision {
		n = len(ts.Configs)
	}
	out := ConnectorStateInfo{
		Name:      name,
		Connector: StateInfo{State: string(offset.StateUnassigned)},
		Tasks:     []TaskStateInfo{},
		Type:      connectorType,
	}
	for _, st := range sts {
		switch {
		case st.Task == offset.ConnectorTask:
			out.Connector = StateInfo{State: string(st.State), WorkerID: st.WorkerID, Trace: st.Trace}
		case st.Task < n:
			out.Tasks = append(out.Tasks, TaskStateInfo{ID: st.Task, State: string(st.State), WorkerID: st.WorkerID, Trace: st.Trace})
		}
	}
	for i := range n {
		if !slices.ContainsFunc(out.Tasks, func(t TaskStateInfo) bool { return t.ID == i }) {
			out.Tasks = append(out.Tasks, TaskStateInfo{ID: i, State: string(offset.StateUnassigned)})
		}
	}
	slices.SortFunc(out.Tasks, func(a, b TaskStateInfo) int { return a.ID - b.ID })
	return out, nil
}

// TaskStatus implements Controller.
func (d *Distributed) TaskStatus(ctx context.Context, name string, task int) (TaskStateInfo, error) {
	st, err := d.ConnectorStatus(ctx, name)
	return taskState(st, err, name, task)
}

// CreateConnector implements Controller.
func (d *Distributed) CreateConnector(ctx context.Context, name string, config map[string]string, initial offset.TargetState) (ConnectorInfo, error) {
	self, leader, err := d.leaderURL()
	if err != nil {
		return ConnectorInfo{}, err
	}
	if self || isForwarded(ctx) {
		if _, err := d.eng.CreateConnector(ctx, name, config, initial); err != nil {
			return ConnectorInfo{}, err
		}
		return d.afterWrite(ctx, name)
	}
	var out ConnectorInfo
	body := map[string]any{"name": name, "config": config}
	if initial != "" {
		body["initial_state"] = initial
	}
	_, err = d.forward(ctx, leader, http.MethodPost, "/connectors", body, &out)
	return out, err
}

// PutConnectorConfig implements Controller.
func (d *Distributed) PutConnectorConfig(ctx context.Context, name string, config map[string]string) (ConnectorInfo, bool, error) {
	self, leader, err := d.leaderURL()
	if err != nil {
		return ConnectorInfo{}, false, err
	}
	if self || isForwarded(ctx) {
		_, created, err := d.eng.PutConnectorConfig(ctx, name, config)
		if err != nil {
			return ConnectorInfo{}, false, err
		}
		info, err := d.afterWrite(ctx, name)
		return info, created, err
	}
	var out ConnectorInfo
	code, err := d.forward(ctx, leader, http.MethodPut, "/connectors/"+url.PathEscape(name)+"/config", config, &out)
	return out, code == http.StatusCreated, err
}

// PatchConnectorConfig implements Controller.
func (d *Distributed) PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (ConnectorInfo, error) {
	self, leader, err := d.leaderURL()
	if err != nil {
		return ConnectorInfo{}, err
	}
	if self || isForwarded(ctx) {
		if _, err := d.eng.PatchConnectorConfig(ctx, name, patch); err != nil {
			return ConnectorInfo{}, err
		}
		return d.afterWrite(ctx, name)
	}
	var out ConnectorInfo
	_, err = d.forward(ctx, leader, http.MethodPatch, "/connectors/"+url.PathEscape(name)+"/config", patch, &out)
	return out, err
}

// DeleteConnector implements Controller. The owners of its tasks stop
// them (committing offsets) when the leader's next assignment drops them.
func (d *Distributed) DeleteConnector(ctx context.Context, name string) error {
	self, leader, err := d.leaderURL()
	if err != nil {
		return err
	}
	if self || isForwarded(ctx) {
		if err := d.eng.DeleteConnector(ctx, name); err != nil {
			return err
		}
		d.reconcile(ctx)
		return nil
	}
	_, err = d.forward(ctx, leader, http.MethodDelete, "/connectors/"+url.PathEscape(name), nil, nil)
	return err
}

// SetTargetState implements Controller.
func (d *Distributed) SetTargetState(ctx context.Context, name string, target offset.TargetState) error {
	self, leader, err := d.leaderURL()
	if err != nil {
		return err
	}
	if self || isForwarded(ctx) {
		if err := d.eng.SetTargetState(ctx, name, target); err != nil {
			return err
		}
		_, err := d.afterWrite(ctx, name)
		return err
	}
	verb := map[offset.TargetState]string{offset.TargetRunning: "resume", offset.TargetPaused: "pause", offset.TargetStopped: "stop"}[target]
	if verb == "" {
		return checkTarget(target)
	}
	_, err = d.forward(ctx, leader, http.MethodPut, "/connectors/"+url.PathEscape(name)+"/"+verb, nil, nil)
	return err
}

// RestartConnector implements Controller. The leader re-plans a FAILED
// connector (a new epoch of its task set) and, with includeTasks, bumps
// the restart counter of the chosen tasks; their owners restart them.
func (d *Distributed) RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (ConnectorStateInfo, error) {
	self, leader, err := d.leaderURL()
	if err != nil {
		return ConnectorStateInfo{}, err
	}
	if !self && !isForwarded(ctx) {
		q := "?includeTasks=" + strconv.FormatBool(includeTasks) + "&onlyFailed=" + strconv.FormatBool(onlyFailed)
		if _, err := d.forward(ctx, leader, http.MethodPost, "/connectors/"+url.PathEscape(name)+"/restart"+q, nil, nil); err != nil {
			return ConnectorStateInfo{}, err
		}
		return d.ConnectorStatus(ctx, name)
	}
	def, err := d.eng.connector(ctx, name)
	if err != nil {
		return ConnectorStateInfo{}, err
	}
	failed := map[int]bool{}
	sts, err := d.st.Statuses(ctx, name)
	if err != nil {
		return ConnectorStateInfo{}, err
	}
	for _, st := range sts {
		failed[st.Task] = st.State == offset.StateFailed
	}
	err = d.updateTaskSet(ctx, name, func(ts *taskSet) bool {
		if ts.Failed != "" {
			ts.Epoch++
			ts.Revision = -1 // planned again by the leader's next pass
			return true
		}
		if !includeTasks || def.Target != offset.TargetRunning {
			return false
		}
		changed := false
		for i := range ts.Configs {
			if !onlyFailed || failed[i] {
				for len(ts.Restarts) <= i {
					ts.Restarts = append(ts.Restarts, 0)
				}
				ts.Restarts[i]++
				changed = true
			}
		}
		return changed
	})
	if err != nil {
		return ConnectorStateInfo{}, err
	}
	d.reconcile(ctx)
	return d.ConnectorStatus(ctx, name)
}

// RestartTask implements Controller.
func (d *Distributed) RestartTask(ctx context.Context, name string, task int) error {
	self, leader, err := d.leaderURL()
	if err != nil {
		return err
	}
	if !self && !isForwarded(ctx) {
		_, err := d.forward(ctx, leader, http.MethodPost, "/connectors/"+url.PathEscape(name)+"/tasks/"+strconv.Itoa(task)+"/restart", nil, nil)
		return err
	}
	def, err := d.eng.connector(ctx, name)
	if err != nil {
		return err
	}
	found := true
	err = d.updateTaskSet(ctx, name, func(ts *taskSet) bool {
		if task < 0 || task >= len(ts.Configs) {
			found = false
			return false
		}
		if def.Target != offset.TargetRunning {
			return false
		}
		for len(ts.Restarts) <= task {
			ts.Restarts = append(ts.Restarts, 0)
		}
		ts.Restarts[task]++
		return true
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("task %s/%d: %w", name, task, ErrNotFound)
	}
	d.reconcile(ctx)
	return nil
}

// updateTaskSet applies change to a connector's published task set with
// compare-and-set, retrying when another writer came first.
func (d *Distributed) updateTaskSet(ctx context.Context, name string, change func(*taskSet) bool) error {
	for range 5 {
		ts, ver, err := readTaskSet(ctx, d.st, name)
		if err != nil {
			return err
		}
		if ver == 0 || !change(&ts) {
			return nil
		}
		if _, err := d.putTaskSet(ctx, name, ver, ts); err == nil {
			return nil
		} else if !errors.Is(err, ErrRegisterConflict) {
			return err
		}
	}
	return fmt.Errorf("connector %q: task set kept changing: %w", name, ErrRebalancing)
}

// afterWrite publishes the written connector's task set at once (only
// that connector: a full pass per write would make bulk creation
// quadratic), wakes the loop to assign it, and returns the connector's
// info with its tasks.
func (d *Distributed) afterWrite(ctx context.Context, name string) (ConnectorInfo, error) {
	d.loopMu.Lock()
	def, err := d.st.Connector(ctx, name)
	if err == nil {
		ts, ver, rerr := readTaskSet(ctx, d.st, name)
		if rerr == nil && (ver == 0 || ts.Revision != def.Revision) {
			// A conflict means another leader planned it: fine.
			if _, perr := d.publishPlan(ctx, def, ts, ver); perr != nil && !errors.Is(perr, ErrRegisterConflict) {
				d.log.Warn("publishing task configs", "connector", name, "err", perr)
			}
		}
	}
	d.loopMu.Unlock()
	d.kick()
	return d.ConnectorInfo(ctx, name)
}

// forwardedKey marks a request context whose request was forwarded by
// another worker: it is handled here, never forwarded again, so two
// workers that briefly disagree on the leader cannot bounce it.
type forwardedKey struct{}

// forwardedHeader is set on requests a follower forwards to the leader.
const forwardedHeader = "Ferry-Forwarded-By"

func isForwarded(ctx context.Context) bool {
	v, _ := ctx.Value(forwardedKey{}).(bool)
	return v
}

// forward sends a write to the leader's REST API and turns its answer back
// into what the local Controller would have returned: the decoded body, or
// an error of the same kind (and so the same HTTP status) with the
// leader's message.
func (d *Distributed) forward(ctx context.Context, base, method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(forwardedHeader, d.cfg.WorkerID)
	if a := callerAuthorization(ctx); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("forward to the leader %s: %v: %w", base, err, ErrRebalancing)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("forward to the leader %s: %w", base, err)
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, forwardedError(resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("forward to the leader %s: decode answer: %w", base, err)
		}
	}
	return resp.StatusCode, nil
}

// forwardedError rebuilds the leader's error answer.
func forwardedError(code int, data []byte) error {
	var eb errorBody
	if json.Unmarshal(data, &eb) != nil || eb.Message == "" {
		eb.Message = fmt.Sprintf("leader answered %d: %s", code, bytes.TrimSpace(data))
	}
	switch code {
	case http.StatusBadRequest:
		if len(eb.Fields) > 0 {
			ve := &api.ValidationError{}
			for _, f := range eb.Fields {
				ve.Fields = append(ve.Fields, api.FieldError{Field: f.Field, Message: f.Message})
			}
			return ve
		}
		return &requestError{kind: ErrBadRequest, msg: eb.Message}
	case http.StatusNotFound:
		return &requestError{kind: ErrNotFound, msg: eb.Message}
	case http.StatusConflict:
		return &requestError{kind: ErrExists, msg: eb.Message}
	}
	return errors.New(eb.Message)
}
