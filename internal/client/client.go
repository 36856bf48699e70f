package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/worker"
)

// maxBody bounds how much of a response is read: a worker's answers are
// small, and a misdirected URL must not make the client buffer gigabytes.
const maxBody = 32 << 20

// Client talks to one worker's REST API.
type Client struct {
	base string // scheme://host[/prefix], no trailing slash
	http *http.Client
	hook ResponseHook
	auth string // Authorization header value, if any
	// headers adds per-call headers from the call's context (Peer).
	headers func(ctx context.Context, h http.Header)

	tlsSet      bool
	tlsCA       string
	tlsInsecure bool
}

// ResponseHook observes one response: the request's method and path (with
// query) and the answer's status and body as received.
type ResponseHook func(method, path string, status int, body []byte)

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: a client with a 30s
// timeout and a transport of its own, a copy of http.DefaultTransport).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithResponseHook calls hook for every response received, errors
// included, before the body is decoded.
func WithResponseHook(hook ResponseHook) Option { return func(c *Client) { c.hook = hook } }

// withHeaders adds headers to every request from its context.
func withHeaders(f func(ctx context.Context, h http.Header)) Option {
	return func(c *Client) { c.headers = f }
}

// WithToken authenticates every request with a bearer token.
func WithToken(token string) Option {
	return func(c *Client) { c.auth = "Bearer " + token }
}

// WithBasicAuth authenticates every request with HTTP Basic credentials.
func WithBasicAuth(user, password string) Option {
	return func(c *Client) {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.SetBasicAuth(user, password)
		c.auth = r.Header.Get("Authorization")
	}
}

// WithTLS verifies the worker's certificate with the PEM CA bundle in
// caFile (the system's roots when empty), or not at all when insecure.
// It applies to the default HTTP client only, not to one given by
// WithHTTPClient.
func WithTLS(caFile string, insecure bool) Option {
	return func(c *Client) { c.tlsCA, c.tlsInsecure, c.tlsSet = caFile, insecure, true }
}

// New returns a client of the worker at baseURL ("http://127.0.0.1:8083";
// a bare host:port means http).
func New(baseURL string, opts ...Option) (*Client, error) {
	raw := strings.TrimSpace(baseURL)
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("client: base URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host[:port]", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: base URL %q must not have a query or fragment", baseURL)
	}
	c := &Client{
		base: u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"),
		// A transport of its own: whoever closes http.DefaultTransport's
		// idle connections (httptest.Server.Close does) must not break
		// this client's requests in flight.
		http: &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()},
	}
	def := c.http
	for _, o := range opts {
		o(c)
	}
	if c.tlsSet && c.http == def {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.tlsInsecure} //nolint:gosec // only when the user asks, with --insecure
		if c.tlsCA != "" {
			pem, err := os.ReadFile(c.tlsCA)
			if err != nil {
				return nil, fmt.Errorf("client: CA certificate: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("client: CA certificate file %s holds no PEM certificate", c.tlsCA)
			}
			tc.RootCAs = pool
		}
		c.http.Transport.(*http.Transport).TLSClientConfig = tc
	}
	return c, nil
}

// ConnectorExpanded is one value of GET /connectors?expand=status&expand=info.
type ConnectorExpanded struct {
	Status *worker.ConnectorStateInfo `json:"status,omitempty"`
	Info   *worker.ConnectorInfo      `json:"info,omitempty"`
}

// CreateRequest is the body of POST /connectors.
type CreateRequest struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	// InitialState is RUNNING (when empty), PAUSED or STOPPED.
	InitialState string `json:"initial_state,omitempty"`
}

// Message is the body of the offset-changing routes: {"message": ".."}.
type Message struct {
	Message string `json:"message"`
}

// Connectors lists connector names (GET /connectors).
func (c *Client) Connectors(ctx context.Context) ([]string, error) {
	var names []string
	err := c.do(ctx, http.MethodGet, "/connectors", nil, nil, &names)
	return names, err
}

// ConnectorsExpanded lists connectors with their status and/or info (GET
// /connectors?expand=..). expand holds "status", "info" or both.
func (c *Client) ConnectorsExpanded(ctx context.Context, expand ...string) (map[string]ConnectorExpanded, error) {
	q := url.Values{"expand": expand}
	out := map[string]ConnectorExpanded{}
	err := c.do(ctx, http.MethodGet, "/connectors", q, nil, &out)
	return out, err
}

// CreateConnector creates a connector (POST /connectors).
func (c *Client) CreateConnector(ctx context.Context, req CreateRequest) (worker.ConnectorInfo, error) {
	var info worker.ConnectorInfo
	err := c.do(ctx, http.MethodPost, "/connectors", nil, req, &info)
	return info, err
}

// Connector returns a connector's config (secrets redacted) and tasks.
func (c *Client) Connector(ctx context.Context, name string) (worker.ConnectorInfo, error) {
	var info worker.ConnectorInfo
	err := c.do(ctx, http.MethodGet, connectorPath(name), nil, nil, &info)
	return info, err
}

// DeleteConnector deletes a connector; its offsets are kept.
func (c *Client) DeleteConnector(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, connectorPath(name), nil, nil, nil)
}

// Config returns a connector's config.
func (c *Client) Config(ctx context.Context, name string) (map[string]string, error) {
	cfg := map[string]string{}
	err := c.do(ctx, http.MethodGet, connectorPath(name, "config"), nil, nil, &cfg)
	return cfg, err
}

// PutConfig creates or replaces a connector's config; created reports
// which (201 or 200).
func (c *Client) PutConfig(ctx context.Context, name string, config map[string]string) (info worker.ConnectorInfo, created bool, err error) {
	var status int
	err = c.send(ctx, http.MethodPut, connectorPath(name, "config"), nil, config, &info, &status)
	return info, status == http.StatusCreated, err
}

// PatchConfig merges patch into a connector's config; a nil value deletes
// the key.
func (c *Client) PatchConfig(ctx context.Context, name string, patch map[string]*string) (worker.ConnectorInfo, error) {
	var info worker.ConnectorInfo
	err := c.do(ctx, http.MethodPatch, connectorPath(name, "config"), nil, patch, &info)
	return info, err
}

// Status returns the state of a connector and its tasks.
func (c *Client) Status(ctx context.Context, name string) (worker.ConnectorStateInfo, error) {
	var st worker.ConnectorStateInfo
	err := c.do(ctx, http.MethodGet, connectorPath(name, "status"), nil, nil, &st)
	return st, err
}

// Tasks returns a connector's task configs.
func (c *Client) Tasks(ctx context.Context, name string) ([]worker.TaskInfo, error) {
	var tasks []worker.TaskInfo
	err := c.do(ctx, http.MethodGet, connectorPath(name, "tasks"), nil, nil, &tasks)
	return tasks, err
}

// TaskStatus returns the state of one task.
func (c *Client) TaskStatus(ctx context.Context, name string, task int) (worker.TaskStateInfo, error) {
	var st worker.TaskStateInfo
	err := c.do(ctx, http.MethodGet, connectorPath(name, "tasks", strconv.Itoa(task), "status"), nil, nil, &st)
	return st, err
}

// RestartConnector restarts a connector and, with includeTasks, its tasks
// (only the failed ones with onlyFailed). Like Kafka Connect, the server
// answers 204 without a body when both are false; the status is then nil.
func (c *Client) RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (*worker.ConnectorStateInfo, error) {
	q := url.Values{}
	if includeTasks {
		q.Set("includeTasks", "true")
	}
	if onlyFailed {
		q.Set("onlyFailed", "true")
	}
	var st *worker.ConnectorStateInfo
	err := c.do(ctx, http.MethodPost, connectorPath(name, "restart"), q, nil, &st)
	return st, err
}

// RestartTask restarts one task.
func (c *Client) RestartTask(ctx context.Context, name string, task int) error {
	return c.do(ctx, http.MethodPost, connectorPath(name, "tasks", strconv.Itoa(task), "restart"), nil, nil, nil)
}

// Pause pauses a connector.
func (c *Client) Pause(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPut, connectorPath(name, "pause"), nil, nil, nil)
}

// Resume resumes a paused or stopped connector.
func (c *Client) Resume(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPut, connectorPath(name, "resume"), nil, nil, nil)
}

// Stop stops a connector (its tasks shut down; offsets may then change).
func (c *Client) Stop(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPut, connectorPath(name, "stop"), nil, nil, nil)
}

// Offsets returns a connector's committed offsets.
func (c *Client) Offsets(ctx context.Context, name string) (worker.ConnectorOffsets, error) {
	var off worker.ConnectorOffsets
	err := c.do(ctx, http.MethodGet, connectorPath(name, "offsets"), nil, nil, &off)
	return off, err
}

// AlterOffsets sets some partitions' offsets (a nil Offset deletes one).
// The connector must be STOPPED.
func (c *Client) AlterOffsets(ctx context.Context, name string, offsets worker.ConnectorOffsets) (Message, error) {
	var m Message
	err := c.do(ctx, http.MethodPatch, connectorPath(name, "offsets"), nil, offsets, &m)
	return m, err
}

// ResetOffsets deletes every offset of a connector. The connector must be
// STOPPED.
func (c *Client) ResetOffsets(ctx context.Context, name string) (Message, error) {
	var m Message
	err := c.do(ctx, http.MethodDelete, connectorPath(name, "offsets"), nil, nil, &m)
	return m, err
}

// Plugins lists installed plugins, transforms included.
func (c *Client) Plugins(ctx context.Context) ([]worker.PluginInfo, error) {
	var plugins []worker.PluginInfo
	q := url.Values{"connectorsOnly": {"false"}}
	err := c.do(ctx, http.MethodGet, "/connector-plugins", q, nil, &plugins)
	return plugins, err
}

// PluginConfig returns a plugin's declared fields.
func (c *Client) PluginConfig(ctx context.Context, plugin string) ([]worker.ConfigKeyInfo, error) {
	var keys []worker.ConfigKeyInfo
	err := c.do(ctx, http.MethodGet, "/connector-plugins/"+url.PathEscape(plugin)+"/config", nil, nil, &keys)
	return keys, err
}

// Validate checks a full connector config against plugin (the source or
// sink named in it) and reports every field.
func (c *Client) Validate(ctx context.Context, plugin string, config map[string]string) (worker.ConfigInfos, error) {
	var infos worker.ConfigInfos
	err := c.do(ctx, http.MethodPut, "/connector-plugins/"+url.PathEscape(plugin)+"/config/validate", nil, config, &infos)
	return infos, err
}

// PreviewTransforms runs events (CloudEvents in structured JSON) through
// the transform chain config declares, without creating a connector (POST
// /transforms/preview), and returns one result per event. An invalid
// chain or event is an *Error with status 400.
func (c *Client) PreviewTransforms(ctx context.Context, config map[string]string, events []json.RawMessage) ([]worker.PreviewResult, error) {
	var resp worker.PreviewResponse
	err := c.do(ctx, http.MethodPost, "/transforms/preview", nil, worker.PreviewRequest{Config: config, Events: events}, &resp)
	return resp.Results, err
}

// connectorPath is /connectors/{name}[/more...] with each segment escaped,
// so a name holding '/' or '?' stays one segment.
func connectorPath(name string, more ...string) string {
	var b strings.Builder
	b.WriteString("/connectors/")
	b.WriteString(url.PathEscape(name))
	for _, m := range more {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(m))
	}
	return b.String()
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	return c.send(ctx, method, path, q, in, out, nil)
}

// send performs one call: in (when non-nil) is sent as JSON, a 2xx body is
// decoded into out (when non-nil and the body is not empty), and status
// (when non-nil) receives the HTTP status.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, in, out any, status *int) error {
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+target, body)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.headers != nil {
		c.headers(ctx, req.Header)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("client: %s %s: read response: %w", method, path, err)
	}
	if c.hook != nil {
		c.hook(method, target, resp.StatusCode, raw)
	}
	if status != nil {
		*status = resp.StatusCode
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp.StatusCode, raw)
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("client: %s %s: decode response (HTTP %d): %w", method, path, resp.StatusCode, err)
	}
	return nil
}

// decodeError turns a non-2xx answer into an *Error, keeping the raw body
// as the message when it is not {"error_code":..,"message":..} (a proxy's
// HTML page, say).
func decodeError(status int, raw []byte) error {
	e := &Error{StatusCode: status}
	var body worker.ErrorBody
	if json.Unmarshal(raw, &body) == nil && body.Message != "" {
		e.Code, e.Message, e.Fields = body.ErrorCode, body.Message, body.Fields
		return e
	}
	e.Message = strings.TrimSpace(string(raw))
	if len(e.Message) > 512 {
		e.Message = e.Message[:512] + "…"
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}
