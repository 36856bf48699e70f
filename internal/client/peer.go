package client

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime/trace"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
)

// Peer is another worker's Controller as a cluster worker calls it: every
// call goes to that worker's REST API marked as forwarded by this worker,
// with the request id, replay mark and caller's Authorization header that
// the call's context carries (worker.Request), and its answer comes back
// as the error the remote Controller returned — so the forwarding worker
// answers its own client with the same status and message. A call that got
// no answer, or a 503, is a *worker.UnansweredError; a 401 or 403 is a
// *worker.LeaderRefusedError.
type Peer struct {
	c    *Client
	base string
}

var _ worker.Controller = (*Peer)(nil)

// NewPeer returns the Controller of the worker at baseURL as the worker
// self calls it.
func NewPeer(baseURL, self string, opts ...Option) (*Peer, error) {
	opts = append(opts, withHeaders(func(ctx context.Context, h http.Header) {
		r := worker.RequestOf(ctx)
		h.Set(worker.HeaderForwardedBy, self)
		if r.ID != "" {
			h.Set(worker.HeaderRequestID, r.ID)
		}
		if r.Replay {
			h.Set(worker.HeaderReplay, "1")
		}
		if r.Authorization != "" {
			h.Set("Authorization", r.Authorization)
		}
	}))
	c, err := New(baseURL, opts...)
	if err != nil {
		return nil, err
	}
	return &Peer{c: c, base: c.base}, nil
}

// answer turns the client's error into the remote Controller's.
func (p *Peer) answer(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		var op *net.OpError
		sent := !errors.As(err, &op) || op.Op != "dial"
		return &worker.UnansweredError{Worker: p.base, Err: err, MaybeApplied: sent}
	}
	switch e.StatusCode {
	case http.StatusServiceUnavailable:
		return &worker.UnansweredError{Worker: p.base, Err: &worker.KindError{Kind: worker.ErrNoLeader, Msg: e.Message}}
	case http.StatusUnauthorized, http.StatusForbidden:
		return &worker.LeaderRefusedError{Status: e.StatusCode, Msg: "forwarded to the leader: " + e.Message}
	case http.StatusBadRequest:
		if len(e.Fields) > 0 {
			ve := &api.ValidationError{}
			for _, f := range e.Fields {
				ve.Fields = append(ve.Fields, api.FieldError{Field: f.Field, Message: f.Message})
			}
			return ve
		}
		return &worker.KindError{Kind: worker.ErrBadRequest, Msg: e.Message}
	case http.StatusNotFound:
		return &worker.KindError{Kind: worker.ErrNotFound, Msg: e.Message}
	case http.StatusConflict:
		return &worker.KindError{Kind: worker.ErrExists, Msg: e.Message}
	}
	return errors.New(e.Message)
}

// WorkerID implements worker.Controller: the peer's base URL (its id is
// not asked for).
func (p *Peer) WorkerID() string { return p.base }

// Plugins implements worker.Controller; a peer that cannot be asked lists
// none.
func (p *Peer) Plugins() []worker.PluginInfo {
	out, err := p.c.Plugins(context.Background())
	if err != nil {
		return nil
	}
	return out
}

// PluginConfig implements worker.Controller.
func (p *Peer) PluginConfig(plugin string) ([]worker.ConfigKeyInfo, error) {
	out, err := p.c.PluginConfig(context.Background(), plugin)
	return out, p.answer(err)
}

// Validate implements worker.Controller.
func (p *Peer) Validate(ctx context.Context, plugin string, config map[string]string) (worker.ConfigInfos, error) {
	out, err := p.c.Validate(ctx, plugin, config)
	return out, p.answer(err)
}

// Connectors implements worker.Controller.
func (p *Peer) Connectors(ctx context.Context) ([]string, error) {
	out, err := p.c.Connectors(ctx)
	return out, p.answer(err)
}

// CreateConnector implements worker.Controller.
func (p *Peer) CreateConnector(ctx context.Context, name string, config map[string]string, initial state.TargetState) (worker.ConnectorInfo, error) {
	out, err := p.c.CreateConnector(ctx, CreateRequest{Name: name, Config: config, InitialState: string(initial)})
	return out, p.answer(err)
}

// PutConnectorConfig implements worker.Controller.
func (p *Peer) PutConnectorConfig(ctx context.Context, name string, config map[string]string) (worker.ConnectorInfo, bool, error) {
	out, created, err := p.c.PutConfig(ctx, name, config)
	return out, created, p.answer(err)
}

// PatchConnectorConfig implements worker.Controller.
func (p *Peer) PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (worker.ConnectorInfo, error) {
	out, err := p.c.PatchConfig(ctx, name, patch)
	return out, p.answer(err)
}

// DeleteConnector implements worker.Controller.
func (p *Peer) DeleteConnector(ctx context.Context, name string) error {
	return p.answer(p.c.DeleteConnector(ctx, name))
}

// ConnectorInfo implements worker.Controller.
func (p *Peer) ConnectorInfo(ctx context.Context, name string) (worker.ConnectorInfo, error) {
	out, err := p.c.Connector(ctx, name)
	return out, p.answer(err)
}

// ConnectorStatus implements worker.Controller.
func (p *Peer) ConnectorStatus(ctx context.Context, name string) (worker.ConnectorStateInfo, error) {
	out, err := p.c.Status(ctx, name)
	return out, p.answer(err)
}

// TaskConfigs implements worker.Controller.
func (p *Peer) TaskConfigs(ctx context.Context, name string) ([]worker.TaskInfo, error) {
	out, err := p.c.Tasks(ctx, name)
	return out, p.answer(err)
}

// TaskStatus implements worker.Controller.
func (p *Peer) TaskStatus(ctx context.Context, name string, task int) (worker.TaskStateInfo, error) {
	out, err := p.c.TaskStatus(ctx, name, task)
	return out, p.answer(err)
}

// RestartConnector implements worker.Controller. When the peer answers
// without a status (neither includeTasks nor onlyFailed), the status is
// read from it.
func (p *Peer) RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (worker.ConnectorStateInfo, error) {
	st, err := p.c.RestartConnector(ctx, name, includeTasks, onlyFailed)
	if err != nil {
		return worker.ConnectorStateInfo{}, p.answer(err)
	}
	if st != nil {
		return *st, nil
	}
	return p.ConnectorStatus(ctx, name)
}

// RestartTask implements worker.Controller.
func (p *Peer) RestartTask(ctx context.Context, name string, task int) error {
	return p.answer(p.c.RestartTask(ctx, name, task))
}

// SetTargetState implements worker.Controller.
func (p *Peer) SetTargetState(ctx context.Context, name string, target state.TargetState) error {
	var err error
	switch target {
	case state.TargetRunning:
		err = p.c.Resume(ctx, name)
	case state.TargetPaused:
		err = p.c.Pause(ctx, name)
	case state.TargetStopped:
		err = p.c.Stop(ctx, name)
	default:
		return &worker.KindError{Kind: worker.ErrBadRequest, Msg: "target state must be RUNNING, PAUSED or STOPPED, got " + string(target)}
	}
	return p.answer(err)
}

// Offsets implements worker.Controller.
func (p *Peer) Offsets(ctx context.Context, name string) (worker.ConnectorOffsets, error) {
	out, err := p.c.Offsets(ctx, name)
	return out, p.answer(err)
}

// AlterOffsets implements worker.Controller.
func (p *Peer) AlterOffsets(ctx context.Context, name string, offsets worker.ConnectorOffsets) error {
	_, err := p.c.AlterOffsets(ctx, name, offsets)
	return p.answer(err)
}

// ResetOffsets implements worker.Controller.
func (p *Peer) ResetOffsets(ctx context.Context, name string) error {
	_, err := p.c.ResetOffsets(ctx, name)
	return p.answer(err)
}

// PreviewTransforms implements worker.Controller.
func (p *Peer) PreviewTransforms(ctx context.Context, config map[string]string, events []api.Event) ([]worker.PreviewResult, error) {
	raws := make([]json.RawMessage, len(events))
	for i := range events {
		b, err := json.Marshal(&events[i])
		if err != nil {
			return nil, err
		}
		raws[i] = b
	}
	out, err := p.c.PreviewTransforms(ctx, config, raws)
	return out, p.answer(err)
}

// Traces returns the peer's own traces of a connector (the call is marked
// forwarded, so the peer does not ask further).
func (p *Peer) Traces(ctx context.Context, name string, f trace.Filter) (worker.TracesInfo, error) {
	out, err := p.c.Traces(ctx, name, f)
	return out, p.answer(err)
}

// FollowTap calls fn with each event of the peer's own live tap of a
// connector until ctx ends (nil) or the peer ends the stream or fails.
func (p *Peer) FollowTap(ctx context.Context, name string, fn func(trace.TapEvent)) error {
	return p.answer(p.c.Tap(ctx, name, func(ev trace.TapEvent) error { fn(ev); return nil }))
}
