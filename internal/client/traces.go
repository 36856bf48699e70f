package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ferryhq/ferry/runtime/trace"
	"github.com/ferryhq/ferry/worker"
)

// Traces returns a connector's traced events that match f, newest first
// (GET /connectors/{name}/traces).
func (c *Client) Traces(ctx context.Context, name string, f trace.Filter) (worker.TracesInfo, error) {
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
	var out worker.TracesInfo
	err := c.do(ctx, http.MethodGet, connectorPath(name, "traces"), q, nil, &out)
	return out, err
}

// maxTapEvent bounds one line of a tap stream.
const maxTapEvent = 16 << 20

// Tap follows a connector's live tap (GET /connectors/{name}/tap), calling
// fn with each event in order until ctx ends (Tap returns nil), fn
// returns an error (returned), or the worker ends the stream (its request
// timeout; Tap returns ErrStreamEnded, and the caller may tap again).
func (c *Client) Tap(ctx context.Context, name string, fn func(trace.TapEvent) error) error {
	path := connectorPath(name, "tap")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return fmt.Errorf("client: GET %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/x-ndjson")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	if c.headers != nil {
		c.headers(ctx, req.Header)
	}
	// A stream outlives the client's timeout for whole answers; ctx ends it.
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("client: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if c.hook != nil {
			c.hook(http.MethodGet, path, resp.StatusCode, raw)
		}
		return decodeError(resp.StatusCode, raw)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, maxTapEvent)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev trace.TapEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			if ctx.Err() != nil {
				// The scanner hands over the part of a line read before
				// ctx ended the stream: the caller stopped, not the worker.
				return nil
			}
			return fmt.Errorf("client: GET %s: decode event: %w", path, err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("client: GET %s: %w", path, err)
	}
	return ErrStreamEnded
}
