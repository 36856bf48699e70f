package worker

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/ferryhq/ferry/runtime/trace"
	"github.com/ferryhq/ferry/state"
)

// Traces implements TraceSource: this worker's traces of the connector
// and those of every other worker whose task status names it, asked
// through their REST API (marked forwarded, so they answer alone).
func (d *Distributed) Traces(ctx context.Context, name string, f trace.Filter) (TracesInfo, error) {
	out, err := d.eng.traces(ctx, name, f)
	if err != nil || RequestOf(ctx).Forwarded {
		return out, err
	}
	owners, err := d.taskOwners(ctx, name)
	if err != nil {
		return TracesInfo{}, err
	}
	for _, o := range owners {
		if o.url == "" {
			out.Unreached = append(out.Unreached, o.id)
			continue
		}
		remote, err := d.remoteTraces(ctx, o.url, func(ctx context.Context, p remoteTracer) (TracesInfo, error) {
			return p.Traces(ctx, name, f)
		})
		if err != nil {
			d.log.Warn("cannot read a worker's traces", "connector", name, "worker", o.id, "err", err)
			out.Unreached = append(out.Unreached, o.id)
			continue
		}
		out.Traces = append(out.Traces, remote.Traces...)
	}
	slices.SortStableFunc(out.Traces, func(a, b trace.Trace) int { return b.Done.Compare(a.Done) })
	limit := f.Limit
	if limit <= 0 || limit > trace.MaxLimit {
		limit = trace.MaxLimit
	}
	out.Traces = out.Traces[:min(len(out.Traces), limit)]
	return out, nil
}

// Tap implements TraceSource: this worker's tap of the connector merged
// with the live taps of the other workers running its tasks when it
// starts. Their events that the reader does not take in time are lost
// (counted in the next event's Missed).
func (d *Distributed) Tap(ctx context.Context, name string) (<-chan trace.TapEvent, error) {
	local, err := d.eng.tap(ctx, name)
	if err != nil || RequestOf(ctx).Forwarded {
		return local, err
	}
	owners, err := d.taskOwners(ctx, name)
	if err != nil || len(owners) == 0 {
		return local, err
	}
	out := make(chan trace.TapEvent, trace.DefaultTapBuffer)
	var wg sync.WaitGroup
	var missedMu sync.Mutex
	var missed int64
	send := func(ev trace.TapEvent) {
		missedMu.Lock()
		defer missedMu.Unlock()
		ev.Missed += missed
		select {
		case out <- ev:
			missed = 0
		default:
			missed = ev.Missed + 1
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range local {
			send(ev)
		}
	}()
	for _, o := range owners {
		if o.url == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := d.remoteTraces(ctx, o.url, func(ctx context.Context, p remoteTracer) (TracesInfo, error) {
				return TracesInfo{}, p.FollowTap(ctx, name, send)
			})
			if err != nil && ctx.Err() == nil {
				d.log.Warn("cannot follow a worker's tap", "connector", name, "worker", o.id, "err", err)
			}
		}()
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out, nil
}

// remoteTracer is what the cluster herder asks of another worker's
// Controller (DistributedConfig.Peer) for traces; internal/client.Peer
// has it. Its calls are marked forwarded, so the other worker answers for
// itself alone.
type remoteTracer interface {
	Traces(ctx context.Context, name string, f trace.Filter) (TracesInfo, error)
	FollowTap(ctx context.Context, name string, fn func(trace.TapEvent)) error
}

// remoteTraces runs call against the worker at restURL, carrying the
// caller's credentials.
func (d *Distributed) remoteTraces(ctx context.Context, restURL string, call func(context.Context, remoteTracer) (TracesInfo, error)) (TracesInfo, error) {
	peer, err := d.cfg.Peer(restURL)
	if err != nil {
		return TracesInfo{}, err
	}
	rt, ok := peer.(remoteTracer)
	if !ok {
		return TracesInfo{}, fmt.Errorf("the Controller of %s serves no traces", restURL)
	}
	return call(ctx, rt)
}

// owner is a worker running tasks of a connector.
type owner struct{ id, url string }

// taskOwners lists the other workers whose task statuses name them, with
// their REST URLs ("" for one not in the membership).
func (d *Distributed) taskOwners(ctx context.Context, name string) ([]owner, error) {
	sts, err := d.st.Statuses(ctx, name)
	if err != nil {
		return nil, err
	}
	urls := map[string]string{}
	for _, m := range d.mem.Members() {
		urls[m.Name] = m.Meta.RESTURL
	}
	var out []owner
	for _, st := range sts {
		if st.Task == state.ConnectorTask || st.WorkerID == "" || st.WorkerID == d.cfg.WorkerID ||
			slices.ContainsFunc(out, func(o owner) bool { return o.id == st.WorkerID }) {
			continue
		}
		out = append(out, owner{id: st.WorkerID, url: urls[st.WorkerID]})
	}
	slices.SortFunc(out, func(a, b owner) int { return cmp.Compare(a.id, b.id) })
	return out, nil
}
