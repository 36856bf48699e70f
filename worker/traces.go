package worker

import (
	"context"

	"github.com/ferryhq/ferry/runtime/trace"
)

// TraceSource is the optional part of a Controller that serves event
// traces (package trace): GET /connectors/{name}/traces and its live tap.
// Both herders implement it; the REST API answers 404 for a Controller
// that does not. Its methods may be called from any goroutine.
type TraceSource interface {
	// Traces returns the connector's traces that match f, newest first,
	// at most f.Limit (trace.MaxLimit when 0): in cluster mode from every
	// worker running one of its tasks. ErrNotFound for an unknown
	// connector.
	Traces(ctx context.Context, name string, f trace.Filter) (TracesInfo, error)
	// Tap sends the events the connector's tasks finish from now until
	// ctx ends, then closes the channel; in cluster mode from every worker
	// running one of its tasks when the tap starts. A reader that falls
	// behind loses events (TapEvent.Missed), never slows a task.
	// ErrNotFound for an unknown connector; trace.ErrTooManyTaps when the
	// worker serves its most taps.
	Tap(ctx context.Context, name string) (<-chan trace.TapEvent, error)
}

// TracesInfo is the answer of GET /connectors/{name}/traces.
type TracesInfo struct {
	Traces []trace.Trace `json:"traces"`
	// Unreached names the workers running the connector's tasks that did
	// not answer (cluster mode); their traces are missing.
	Unreached []string `json:"unreached,omitempty"`
}

// Traces implements TraceSource.
func (s *Standalone) Traces(ctx context.Context, name string, f trace.Filter) (TracesInfo, error) {
	return s.eng.traces(ctx, name, f)
}

// Tap implements TraceSource.
func (s *Standalone) Tap(ctx context.Context, name string) (<-chan trace.TapEvent, error) {
	return s.eng.tap(ctx, name)
}

// traces is this worker's traces of a connector.
func (e *engine) traces(ctx context.Context, name string, f trace.Filter) (TracesInfo, error) {
	if _, err := e.connector(ctx, name); err != nil {
		return TracesInfo{}, err
	}
	out := e.tracer.Traces(name, f)
	if out == nil {
		out = []trace.Trace{}
	}
	return TracesInfo{Traces: out}, nil
}

// forgetTraces drops a deleted connector's traces.
func (e *engine) forgetTraces(name string) { e.tracer.Forget(name) }

// tap is this worker's live tap of a connector.
func (e *engine) tap(ctx context.Context, name string) (<-chan trace.TapEvent, error) {
	if _, err := e.connector(ctx, name); err != nil {
		return nil, err
	}
	return e.tracer.Tap(ctx, name)
}

var (
	_ TraceSource = (*Standalone)(nil)
	_ TraceSource = (*Distributed)(nil)
)
