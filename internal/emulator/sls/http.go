package sls

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// call is one authenticated request as a handler sees it.
type call struct {
	w       http.ResponseWriter
	r       *http.Request
	project string // from the Host header; "" when the request names none
	body    []byte
}

type handlerFunc func(s *Server, c *call) *apiError

// routes maps SLS's REST API onto handlers. Go's ServeMux picks the most
// specific pattern, so …/shards/route wins over …/shards/{shard}.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn handlerFunc) { mux.Handle(pattern, s.wrap(fn)) }

	h("POST /{$}", (*Server).createProject)
	h("GET /{$}", (*Server).getProject)
	h("PUT /{$}", (*Server).updateProject)
	h("DELETE /{$}", (*Server).deleteProject)

	h("GET /logstores", (*Server).listLogstores)
	h("POST /logstores", (*Server).createLogstore)
	h("GET /logstores/{logstore}", (*Server).getLogstore)
	h("PUT /logstores/{logstore}", (*Server).updateLogstore)
	h("DELETE /logstores/{logstore}", (*Server).deleteLogstore)
	h("POST /logstores/{logstore}", (*Server).putLogs)
	h("POST /logstores/{logstore}/shards/route", (*Server).putLogs)
	h("GET /logstores/{logstore}/shards", (*Server).listShards)
	h("GET /logstores/{logstore}/shards/{shard}", (*Server).readShard)
	h("POST /logstores/{logstore}/shards/{shard}", (*Server).shardAction)

	h("GET /logstores/{logstore}/consumergroups", (*Server).listConsumerGroups)
	h("POST /logstores/{logstore}/consumergroups", (*Server).createConsumerGroup)
	h("PUT /logstores/{logstore}/consumergroups/{group}", (*Server).updateConsumerGroup)
	h("DELETE /logstores/{logstore}/consumergroups/{group}", (*Server).deleteConsumerGroup)
	h("GET /logstores/{logstore}/consumergroups/{group}", (*Server).getCheckpoints)
	h("POST /logstores/{logstore}/consumergroups/{group}", (*Server).consumerGroupAction)

	// Anything else still answers in SLS's error format, after auth, so a
	// client sees why rather than a bare 404 page.
	h("/", func(_ *Server, c *call) *apiError {
		return newAPIError(http.StatusNotFound, "NotSupported", "the emulator does not implement %s %s", c.r.Method, c.r.URL.Path)
	})
	return mux
}

// wrap reads the body (bounded), authenticates, finds the project in the
// Host header and turns an *apiError into SLS's JSON error response.
func (s *Server) wrap(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-log-requestid", fmt.Sprintf("%016X", s.reqID.Add(1)))
		w.Header().Set("Server", "ferry-sls-emulator")
		// A compressed body is never much larger than its raw size, so
		// twice the raw bound plus slack is a safe cap before inflating.
		limit := int64(2*s.cfg.MaxRawSize + 64<<10)
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, newAPIError(http.StatusRequestEntityTooLarge, "PostBodyTooLarge", "body exceeds %d bytes", limit))
				return
			}
			writeError(w, errPostBodyInvalid("reading body: %v", err))
			return
		}
		if aerr := s.authenticate(r, body); aerr != nil {
			writeError(w, aerr)
			return
		}
		c := &call{w: w, r: r, project: projectFromHost(r.Host), body: body}
		if aerr := fn(s, c); aerr != nil {
			writeError(w, aerr)
		}
	})
}

// projectFromHost returns the project an SLS Host header names: the label
// before the first dot, unless the host is an IP address or a single label.
func projectFromHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if net.ParseIP(host) != nil {
		return ""
	}
	name, _, ok := strings.Cut(host, ".")
	if !ok {
		return ""
	}
	return name
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorCode": e.code, "errorMessage": e.message})
}

// writeJSON sends v with status 200. A nil v sends an empty body, as SLS
// does for writes.
func writeJSON(w http.ResponseWriter, v any) *apiError {
	w.Header().Set("x-log-bodyrawsize", "0")
	if v == nil {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return newAPIError(http.StatusInternalServerError, "InternalServerError", "encoding response: %v", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-log-bodyrawsize", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// decodeJSON reads a JSON request body into v.
func (c *call) decodeJSON(v any) *apiError {
	if err := json.Unmarshal(c.body, v); err != nil {
		return errPostBodyInvalid("body is not valid JSON: %v", err)
	}
	return nil
}

// intParam parses an integer query or path value.
func intParam(name, v string) (int, *apiError) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errParameterInvalid("%s %q is not an integer", name, v)
	}
	return n, nil
}
