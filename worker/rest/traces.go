package rest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ferryhq/ferry/runtime/trace"
	"github.com/ferryhq/ferry/worker"
)

// maxEventIDParam bounds the event_id query parameter.
const maxEventIDParam = 1024

// traces answers GET /connectors/{name}/traces: the connector's recent
// traced events through the filter of the query.
func (s *Server) traces(c *gin.Context) {
	ts, ok := s.cfg.Controller.(worker.TraceSource)
	if !ok {
		s.writeError(c, notFound("this worker does not serve event traces"))
		return
	}
	f, err := traceFilter(c.Request.URL.Query(), time.Now())
	if err != nil {
		s.writeError(c, err)
		return
	}
	info, err := ts.Traces(c.Request.Context(), c.Param("name"), f)
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, info)
}

// tap answers GET /connectors/{name}/tap: a stream of the events the
// connector's tasks finish, one JSON object a line (NDJSON), until the
// client goes, the request times out (RequestTimeout) or the worker
// stops. Events the client does not take in time are lost to it and
// counted in the next event's missed.
func (s *Server) tap(c *gin.Context) {
	ts, ok := s.cfg.Controller.(worker.TraceSource)
	if !ok {
		s.writeError(c, notFound("this worker does not serve event traces"))
		return
	}
	ctx := c.Request.Context()
	events, err := ts.Tap(ctx, c.Param("name"))
	if errors.Is(err, trace.ErrTooManyTaps) {
		c.Header("Retry-After", "10")
		writeErrorStatus(c, http.StatusTooManyRequests, err.Error())
		return
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Content-Type", "application/x-ndjson")
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	c.Writer.Flush() // the client sees the stream open before any event
	enc := json.NewEncoder(c.Writer)
	for ev := range events {
		if err := enc.Encode(ev); err != nil {
			break // the client went; events closes when ctx ends
		}
		c.Writer.Flush()
	}
	for range events { // drain until the tap closes with ctx
	}
}

// traceFilter reads the query of GET /connectors/{name}/traces: event_id,
// since (RFC 3339 or a duration back from now, as 10m), outcome (dropped,
// failed or delivered) and limit (1 to trace.MaxLimit).
func traceFilter(q url.Values, now time.Time) (trace.Filter, error) {
	var f trace.Filter
	f.EventID = q.Get("event_id")
	if len(f.EventID) > maxEventIDParam {
		return f, badRequest("event_id must be at most %d bytes long", maxEventIDParam)
	}
	if v := q.Get("since"); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			f.Since = t
		} else if d, err := time.ParseDuration(v); err == nil && d >= 0 && d <= 10*365*24*time.Hour {
			f.Since = now.Add(-d)
		} else {
			return f, badRequest("since must be an RFC 3339 time (2026-01-02T15:04:05Z) or a duration back from now (10m), got %q", v)
		}
	}
	o, err := trace.ParseOutcome(q.Get("outcome"))
	if err != nil {
		return f, badRequest("%s", err.Error())
	}
	f.Outcome = o
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > trace.MaxLimit {
			return f, badRequest("limit must be an integer from 1 to %d, got %q", trace.MaxLimit, v)
		}
		f.Limit = n
	}
	return f, nil
}
