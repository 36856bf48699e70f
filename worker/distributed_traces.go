package worker

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ferryhq/ferry/runtime/trace"
	"github.com/ferryhq/ferry/state"
)

// Traces implements TraceSource: this worker's traces of the connector
// and those of every other worker whose task status names it, asked
// through their REST API (marked forwarded, so they answer alone).
func (d *Distributed) Traces(ctx context.Context, name string, f trace.Filter) (TracesInfo, error) {
	out, err := d.eng.Traces(ctx, name, f)
	if err != nil || RequestOf(ctx).Forwarded {
		return out, err
	}
	owners, err := d.taskOwners(ctx, name)
	if err != nil {
		return TracesInfo{}, err
	}
	path := "/connectors/" + url.PathEscape(name) + "/traces?" + traceQuery(f).Encode()
	for _, o := range owners {
		var remote TracesInfo
		if o.url == "" {
			out.Unreached = append(out.Unreached, o.id)
			continue
		}
		if _, err := d.forward(ctx, o.url, http.MethodGet, path, nil, nil, &remote); err != nil {
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
	local, err := d.eng.Tap(ctx, name)
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
	path := "/connectors/" + url.PathEscape(name) + "/tap"
	for _, o := range owners {
		if o.url == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.followRemote(ctx, o.url+path, send); err != nil && ctx.Err() == nil {
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

// followRemote reads another worker's tap stream (NDJSON) until it or ctx
// ends.
func (d *Distributed) followRemote(ctx context.Context, u string, send func(trace.TapEvent)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set(HeaderForwardedBy, d.cfg.WorkerID)
	if a := RequestOf(ctx).Authorization; a != "" {
		req.Header.Set("Authorization", a)
	}
	// The herder's client has a timeout for whole answers; a stream is
	// bounded by ctx and the other worker's request timeout instead.
	c := *d.client
	c.Timeout = 0
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &KindError{Kind: ErrBadRequest, Msg: "tap answered " + strconv.Itoa(resp.StatusCode)}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, maxTapLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev trace.TapEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return err
		}
		send(ev)
	}
	return sc.Err()
}

// maxTapLine bounds one tap event read from another worker.
const maxTapLine = 16 << 20

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

// traceQuery renders a filter as the query of GET
// /connectors/{name}/traces.
func traceQuery(f trace.Filter) url.Values {
	q := url.Values{}
	if f.EventID != "" {
		q.Set("event_id", f.EventID)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if f.Outcome != "" {
		q.Set("outcome", string(f.Outcome))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}
