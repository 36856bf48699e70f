package worker

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker/cluster"
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

func (d *Distributed) info(ctx context.Context, def state.Connector) ConnectorInfo {
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
		Connector: StateInfo{State: string(state.StateUnassigned)},
		Tasks:     []TaskStateInfo{},
		Type:      connectorType,
	}
	for _, st := range sts {
		switch {
		case st.Task == state.ConnectorTask:
			out.Connector = StateInfo{State: string(st.State), WorkerID: st.WorkerID, Trace: st.Trace}
		case st.Task < n:
			ts := taskStateOf(st)
			ts.Lag = d.ownedLag(name, st.Task)
			out.Tasks = append(out.Tasks, ts)
		}
	}
	for i := range n {
		if !slices.ContainsFunc(out.Tasks, func(t TaskStateInfo) bool { return t.ID == i }) {
			out.Tasks = append(out.Tasks, TaskStateInfo{ID: i, State: string(state.StateUnassigned)})
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

// CreateConnector implements Controller. A replayed create (an earlier
// attempt reached a leader whose answer was lost) that finds the very
// connector it asked for succeeds: that attempt created it.
func (d *Distributed) CreateConnector(ctx context.Context, name string, config map[string]string, initial state.TargetState) (ConnectorInfo, error) {
	var out ConnectorInfo
	err := d.onLeader(ctx, func(ctx context.Context) error {
		_, err := d.eng.CreateConnector(ctx, name, config, initial)
		if errors.Is(err, ErrExists) && RequestOf(ctx).Replay && d.sameConnector(ctx, name, config, initial) {
			d.log.Info("replayed create found its connector: not created again", "connector", name, "request", RequestOf(ctx).ID)
			err = nil
		}
		if err != nil {
			return err
		}
		out, err = d.afterWrite(ctx, name)
		return err
	}, func(ctx context.Context, leader string, h http.Header) error {
		body := map[string]any{"name": name, "config": config}
		if initial != "" {
			body["initial_state"] = initial
		}
		_, err := d.forward(ctx, leader, http.MethodPost, "/connectors", h, body, &out)
		return err
	})
	return out, err
}

// sameConnector reports whether the stored connector name has exactly
// config (with its name key) and the initial target state.
func (d *Distributed) sameConnector(ctx context.Context, name string, config map[string]string, initial state.TargetState) bool {
	want, err := withName(name, config)
	if err != nil {
		return false
	}
	def, err := d.st.Connector(ctx, name)
	return err == nil && maps.Equal(def.Config, want) && def.Target == cmp.Or(initial, state.TargetRunning)
}

// PutConnectorConfig implements Controller. It is idempotent: a replay
// stores nothing new (but answers created=false when the lost attempt
// created the connector).
func (d *Distributed) PutConnectorConfig(ctx context.Context, name string, config map[string]string) (ConnectorInfo, bool, error) {
	var out ConnectorInfo
	var created bool
	err := d.onLeader(ctx, func(ctx context.Context) error {
		_, c, err := d.eng.PutConnectorConfig(ctx, name, config)
		if err != nil {
			return err
		}
		created = c
		out, err = d.afterWrite(ctx, name)
		return err
	}, func(ctx context.Context, leader string, h http.Header) error {
		code, err := d.forward(ctx, leader, http.MethodPut, "/connectors/"+url.PathEscape(name)+"/config", h, config, &out)
		created = code == http.StatusCreated
		return err
	})
	return out, created, err
}

// PatchConnectorConfig implements Controller. Merging the same patch
// twice gives the same config, so a replay changes nothing.
func (d *Distributed) PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (ConnectorInfo, error) {
	var out ConnectorInfo
	err := d.onLeader(ctx, func(ctx context.Context) error {
		if _, err := d.eng.PatchConnectorConfig(ctx, name, patch); err != nil {
			return err
		}
		var err error
		out, err = d.afterWrite(ctx, name)
		return err
	}, func(ctx context.Context, leader string, h http.Header) error {
		_, err := d.forward(ctx, leader, http.MethodPatch, "/connectors/"+url.PathEscape(name)+"/config", h, patch, &out)
		return err
	})
	return out, err
}

// DeleteConnector implements Controller. The owners of its tasks stop
// them (committing offsets) when the leader's next assignment drops them.
// A replayed delete that finds no connector succeeds: the lost attempt
// deleted it.
func (d *Distributed) DeleteConnector(ctx context.Context, name string) error {
	return d.onLeader(ctx, func(ctx context.Context) error {
		err := d.eng.DeleteConnector(ctx, name)
		if errors.Is(err, ErrNotFound) && RequestOf(ctx).Replay {
			d.log.Info("replayed delete found no connector: already deleted", "connector", name, "request", RequestOf(ctx).ID)
			return nil
		}
		if err != nil {
			return err
		}
		d.reconcile(ctx)
		return nil
	}, func(ctx context.Context, leader string, h http.Header) error {
		_, err := d.forward(ctx, leader, http.MethodDelete, "/connectors/"+url.PathEscape(name), h, nil, nil)
		return err
	})
}

// SetTargetState implements Controller. Setting the state it already has
// changes nothing, so a replay is harmless.
func (d *Distributed) SetTargetState(ctx context.Context, name string, target state.TargetState) error {
	verb := map[state.TargetState]string{state.TargetRunning: "resume", state.TargetPaused: "pause", state.TargetStopped: "stop"}[target]
	if verb == "" {
		return checkTarget(target)
	}
	return d.onLeader(ctx, func(ctx context.Context) error {
		if err := d.eng.SetTargetState(ctx, name, target); err != nil {
			return err
		}
		_, err := d.afterWrite(ctx, name)
		return err
	}, func(ctx context.Context, leader string, h http.Header) error {
		_, err := d.forward(ctx, leader, http.MethodPut, "/connectors/"+url.PathEscape(name)+"/"+verb, h, nil, nil)
		return err
	})
}

// RestartConnector implements Controller. The leader re-plans a FAILED
// connector (a new epoch of its task set) and, with includeTasks, bumps
// the restart counter of the chosen tasks; their owners restart them.
// The request's id is recorded in the same task-set write, so a replay
// restarts nothing twice.
func (d *Distributed) RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (ConnectorStateInfo, error) {
	err := d.onLeader(ctx, func(ctx context.Context) error {
		return d.restartConnector(ctx, name, includeTasks, onlyFailed)
	}, func(ctx context.Context, leader string, h http.Header) error {
		q := "?includeTasks=" + strconv.FormatBool(includeTasks) + "&onlyFailed=" + strconv.FormatBool(onlyFailed)
		_, err := d.forward(ctx, leader, http.MethodPost, "/connectors/"+url.PathEscape(name)+"/restart"+q, h, nil, nil)
		return err
	})
	if err != nil {
		return ConnectorStateInfo{}, err
	}
	return d.ConnectorStatus(ctx, name)
}

func (d *Distributed) restartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) error {
	def, err := d.eng.connector(ctx, name)
	if err != nil {
		return err
	}
	failed := map[int]bool{}
	sts, err := d.st.Statuses(ctx, name)
	if err != nil {
		return err
	}
	for _, st := range sts {
		failed[st.Task] = st.State == state.StateFailed
	}
	err = d.updateTaskSet(ctx, name, func(ts *taskSet) bool {
		if ts.Failed != "" {
			ts.Epoch++
			ts.Revision = -1 // planned again by the leader's next pass
			return true
		}
		if !includeTasks || def.Target != state.TargetRunning {
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
		return err
	}
	d.reconcile(ctx)
	return nil
}

// RestartTask implements Controller; like RestartConnector, a replay
// restarts nothing twice.
func (d *Distributed) RestartTask(ctx context.Context, name string, task int) error {
	return d.onLeader(ctx, func(ctx context.Context) error {
		return d.restartTask(ctx, name, task)
	}, func(ctx context.Context, leader string, h http.Header) error {
		_, err := d.forward(ctx, leader, http.MethodPost, "/connectors/"+url.PathEscape(name)+"/tasks/"+strconv.Itoa(task)+"/restart", h, nil, nil)
		return err
	})
}

func (d *Distributed) restartTask(ctx context.Context, name string, task int) error {
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
		if def.Target != state.TargetRunning {
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
// compare-and-set, retrying when another writer came first. The request's
// id (see onLeader) is recorded in the same write, and a request whose id
// the set already holds changes nothing: a replayed restart is applied
// once.
func (d *Distributed) updateTaskSet(ctx context.Context, name string, change func(*taskSet) bool) error {
	id := RequestOf(ctx).ID
	for range 5 {
		ts, ver, err := readTaskSet(ctx, d.st, name)
		if err != nil {
			return err
		}
		if id != "" && slices.Contains(ts.Requests, id) {
			d.log.Info("replayed request already applied", "connector", name, "request", id)
			return nil
		}
		if ver == 0 || !change(&ts) {
			return nil
		}
		ts.remember(id)
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

// newRequestID returns a random id for one client write.
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// leaderPoll is how often a write waiting for a leader looks again.
const leaderPoll = 50 * time.Millisecond

// onLeader runs one REST write on the leader: local here when this
// worker leads (or another worker forwarded the request to it), remote
// (a forward to the leader's REST URL) otherwise.
//
// While no leader is known, or the leader cannot be reached (it died and
// gossip has not declared it dead yet, or it answered 503), the write
// waits, up to LeaderWait and the request's context, for a leader it can
// reach (maybe this worker), then runs there; then it fails with
// ErrNoLeader (HTTP 503 with Retry-After), and nothing was applied unless
// an attempt's answer was lost, which the error then says.
//
// Every attempt carries the same request id. An attempt that may have
// reached a leader but got no answer makes the next attempts replays, and
// every write is idempotent under replay: PUT, PATCH and state changes
// by nature, a create that finds its own connector and a delete that
// finds none succeed, and restarts record the id in the task set they
// change.
func (d *Distributed) onLeader(ctx context.Context, local func(context.Context) error,
	remote func(ctx context.Context, leader string, h http.Header) error) error {
	if RequestOf(ctx).Forwarded {
		if err := d.catchUp(ctx); err != nil {
			return err
		}
		return local(ctx)
	}
	req := RequestOf(ctx)
	req.ID = newRequestID()
	wait := time.NewTimer(d.cfg.LeaderWait)
	defer wait.Stop()
	began := time.Now()
	var last error
	for {
		self, leader := d.leaderURL()
		switch {
		case self:
			ctx := WithRequest(ctx, req)
			if err := d.catchUp(ctx); err != nil {
				return err
			}
			return local(ctx)
		case leader != "":
			h := http.Header{}
			h.Set(HeaderRequestID, req.ID)
			if req.Replay {
				h.Set(HeaderReplay, "1")
			}
			err := remote(ctx, leader, h)
			var fe *forwardError
			if !errors.As(err, &fe) || ctx.Err() != nil {
				return err
			}
			last = err
			if fe.maybeApplied {
				req.Replay = true
			}
		}
		select {
		case <-ctx.Done():
			return d.noLeader(ctx.Err(), began, last, req)
		case <-wait.C:
			return d.noLeader(nil, began, last, req)
		case <-time.After(leaderPoll):
		}
	}
}

// catchUp makes sure, before a replay runs, that this worker's replica
// holds every write the lost attempt may have made: it writes the barrier
// register, and the store applies writes in config-topic order, so once
// its own write is applied every earlier one is too. Without it a new
// leader whose replica lags could miss the connector the old leader
// created and create it again. Other requests need nothing.
func (d *Distributed) catchUp(ctx context.Context) error {
	r := RequestOf(ctx)
	if !r.Replay {
		return nil
	}
	_, ver, err := d.st.Register(ctx, regBarrier)
	if err == nil {
		_, err = d.st.PutRegister(ctx, regBarrier, ver, []byte(r.ID))
	}
	if err != nil && !errors.Is(err, ErrRegisterConflict) { // a conflict went through the topic too
		return fmt.Errorf("catching up before a replayed write: %w", err)
	}
	return nil
}

// noLeader is onLeader's error once its wait is over.
func (d *Distributed) noLeader(cause error, began time.Time, last error, req Request) error {
	msg := fmt.Sprintf("no reachable cluster leader after waiting %v", time.Since(began).Round(time.Millisecond))
	if last != nil {
		msg += "; last attempt: " + last.Error()
	}
	if req.Replay {
		msg += "; an attempt's answer was lost, so the write may have been applied: read before retrying"
	}
	if cause != nil {
		return fmt.Errorf("%s: %w: %w", msg, ErrNoLeader, cause)
	}
	return fmt.Errorf("%s: %w", msg, ErrNoLeader)
}

// forwardError is a forward that got no answer from the leader, or a
// 503: the write may be tried again, on the same or a new leader.
type forwardError struct {
	leader string
	err    error
	// maybeApplied: the request may have reached the leader (the
	// connection broke after it was sent), so a retry is a replay.
	maybeApplied bool
}

func (e *forwardError) Error() string {
	return fmt.Sprintf("forward to the leader %s: %v", e.leader, e.err)
}

func (e *forwardError) Unwrap() error { return e.err }

// forward sends a write to the leader's REST API and turns its answer back
// into what the local Controller would have returned: the decoded body, or
// an error of the same kind (and so the same HTTP status) with the
// leader's message. No answer, or a 503, is a *forwardError.
func (d *Distributed) forward(ctx context.Context, base, method, path string, h http.Header, body, out any) (int, error) {
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
	maps.Copy(req.Header, h)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderForwardedBy, d.cfg.WorkerID)
	if a := RequestOf(ctx).Authorization; a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		var op *net.OpError
		sent := !errors.As(err, &op) || op.Op != "dial"
		return 0, &forwardError{leader: base, err: err, maybeApplied: sent}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, &forwardError{leader: base, err: err, maybeApplied: true}
	}
	if resp.StatusCode == http.StatusServiceUnavailable {
		return resp.StatusCode, &forwardError{leader: base, err: forwardedError(resp.StatusCode, data)}
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
	var eb ErrorBody
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
		return &KindError{Kind: ErrBadRequest, Msg: eb.Message}
	case http.StatusNotFound:
		return &KindError{Kind: ErrNotFound, Msg: eb.Message}
	case http.StatusConflict:
		return &KindError{Kind: ErrExists, Msg: eb.Message}
	case http.StatusServiceUnavailable:
		return &KindError{Kind: ErrNoLeader, Msg: eb.Message}
	case http.StatusUnauthorized, http.StatusForbidden:
		return &LeaderRefusedError{Status: code, Msg: "forwarded to the leader: " + eb.Message}
	}
	return errors.New(eb.Message)
}

// ownedLag is the lag of a task this worker runs (see TaskMetrics), nil
// for a task another worker runs.
func (d *Distributed) ownedLag(connector string, task int) map[string]int64 {
	d.mu.Lock()
	o := d.owned[cluster.TaskID{Connector: connector, Task: task}]
	d.mu.Unlock()
	if o == nil {
		return nil
	}
	return slotLag(o.slot)
}
