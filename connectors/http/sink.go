package http

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"maps"
	"math"
	nethttp "net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/transform/template"
)

// Sink is the http sink plugin: each event (or batch of events) as an
// HTTP request, as EventBridge API destinations send them.
//
// # Configuration
//
// The table lists the declared fields; headers.<Name>, query.<name>,
// auth.token.form.<name> and auth.token.headers.<Name> are families of
// keys described in docs/http-sink.md.
//
//	field                         type       default   description
//	url[.form|.value|.template]   parameter  required  Destination URL, http or https. A constant; to take it from the event use url.form instead. Required: set either this key or url.form.
//	method                        string     POST      HTTP method. GET and DELETE requests carry no body. One of: POST, PUT, PATCH, GET, DELETE.
//	vars                          string     -         Variables for headers.<Name> and query.<name> templates: a JSON object of name to JSONPath, such as {"id": "$.data.id"}; at most 64.
//	body[.form|.value|.template]  parameter  -         structured: the CloudEvent as JSON (content type application/cloudevents+json); binary: the event's data as the body, every attribute and extension as a header (the CloudEvents binding's binary mode); data: the event's data alone, no attributes. template: the body rendered by body.form.
//	batch                         string     none      none: one request per event; json-array: a JSON array of bodies (structured, data or template); cloudevents-batch: the structured events as application/cloudevents-batch+json. One of: none, json-array, cloudevents-batch.
//	batch.max.records             int        100       Most events in one batch request.
//	batch.max.bytes               int        1048576   Most bytes in one batch request's body; a larger event goes alone.
//	timeout.ms                    int        10000     Longest one request (connect, send, answer headers and body) may take before it counts as a network error and is retried.
//	max.in.flight                 int        1         Requests one task has outstanding at once. Above 1, records are spread by the hash of their key, so one key's records still go one after another; records without a key are spread freely.
//	rate.limit                    float      0         Most requests per second for the whole connector, split evenly among its tasks; 0 is unlimited.
//	retry.on                      list       -         Status codes retried with backoff beyond the defaults (408, 425, 429, 5xx): codes (409), ranges (500-504) or classes (4xx).
//	drop.on                       list       -         Status codes whose record is rejected (dead-letter sink or task failure, per errors.tolerance) instead of retried, in the same notation. May not overlap retry.on.
//	retry.after.max.ms            int        300000    Cap on the wait a Retry-After header may ask for; 0 ignores the header.
//	auth                          string     none      How requests authenticate, as EventBridge connections do. One of: none, basic, api-key, oauth2.
//	auth.username                 string     -         auth=basic: the user name (no colon).
//	auth.password                 string     -         auth=basic: the password. Secret.
//	auth.header                   string     -         auth=api-key: the header that carries the key, such as X-Api-Key or Authorization.
//	auth.value                    string     -         auth=api-key: the key, sent as the header's value. Secret.
//	auth.token.url                string     -         auth=oauth2: the token endpoint (client credentials grant), http or https.
//	auth.client.id                string     -         auth=oauth2: the client id.
//	auth.client.secret            string     -         auth=oauth2: the client secret. Secret.
//	auth.scope                    string     -         auth=oauth2: the scope asked for, space-separated; none when empty.
//	auth.client.auth              string     basic     auth=oauth2: how the client authenticates to the token endpoint: basic (HTTP Basic, RFC 6749's default) or form (client_id and client_secret in the form). One of: basic, form.
//	tls.ca.file                   string     -         PEM CA certificates that verify the server, instead of the system's.
//	tls.cert.file                 string     -         PEM client certificate, for servers that require one (with tls.key.file).
//	tls.key.file                  string     -         PEM key of tls.cert.file.
//	tls.insecure.skip.verify      boolean    false     Do not verify the server's certificate (tests only: anyone on the path can read and change the requests).
//	headers.<name>                string     -         headers.<Name>: a request header, a constant or a ${var} template over vars; at most 64.
//	query.<name>                  string     -         query.<name>: a query parameter, a constant or a ${var} template over vars; at most 64.
//	auth.token.form.<name>        string     -         auth=oauth2: auth.token.form.<name>, an extra form parameter of the token request. Secret.
//	auth.token.headers.<name>     string     -         auth=oauth2: auth.token.headers.<Name>, an extra header of the token request. Secret.
var Sink = api.SinkPlugin{
	Name:     "http",
	Summary:  "Sends events as HTTP requests (EventBridge API destinations): structured or binary CloudEvents, data or a template, one by one or batched, with basic, API key or OAuth2 authentication.",
	Spec:     sinkSpec,
	New:      newSink,
	Validate: validateSink,
}

// The parameters that may come from each event.
var (
	urlParam = template.ParamSpec{Name: "url", Required: true,
		Description: "Destination URL, http or https."}
	bodyParam = template.ParamSpec{Name: "body"}
)

// Bounds of the sink's settings.
const (
	maxVars        = 64
	maxTokenExtras = 32
)

var sinkSpec = func() api.Spec {
	s := slices.Clone(urlParam.Fields())
	body := kit.BodyField
	body.Enum = append(slices.Clone(body.Enum), "template")
	body.Description += " template: the body rendered by body.form."
	s = append(s,
		api.Field{Name: "method", Type: api.TypeString, Default: nethttp.MethodPost,
			Enum:        []string{nethttp.MethodPost, nethttp.MethodPut, nethttp.MethodPatch, nethttp.MethodGet, nethttp.MethodDelete},
			Description: "HTTP method. GET and DELETE requests carry no body."},
		api.Field{Name: "vars", Type: api.TypeString, Check: checkVars,
			Description: `Variables for headers.<Name> and query.<name> templates: a JSON object of name to JSONPath, such as {"id": "$.data.id"}; at most 64.`},
		body)
	for _, f := range bodyParam.Fields()[1:] {
		f.Description = strings.Replace(f.Description, "How body is taken from each event", "With body=template: how the body is made from each event", 1)
		s = append(s, f)
	}
	return append(s, api.Spec{
		{Name: "batch", Type: api.TypeString, Default: "none", Enum: batchNames,
			Description: "none: one request per event; json-array: a JSON array of bodies (structured, data or template); cloudevents-batch: the structured events as application/cloudevents-batch+json."},
		{Name: "batch.max.records", Type: api.TypeInt, Default: "100", Check: api.Range(1, 10000),
			Description: "Most events in one batch request."},
		{Name: "batch.max.bytes", Type: api.TypeInt, Default: "1048576", Check: api.Range(1024, 64<<20),
			Description: "Most bytes in one batch request's body; a larger event goes alone."},
		{Name: "timeout.ms", Type: api.TypeInt, Default: "10000", Check: api.Range(1, 600000),
			Description: "Longest one request (connect, send, answer headers and body) may take before it counts as a network error and is retried."},
		{Name: "max.in.flight", Type: api.TypeInt, Default: "1", Check: api.Range(1, 256),
			Description: "Requests one task has outstanding at once. Above 1, records are spread by the hash of their key, so one key's records still go one after another; records without a key are spread freely."},
		{Name: "rate.limit", Type: api.TypeFloat, Default: "0", Check: checkRate,
			Description: "Most requests per second for the whole connector, split evenly among its tasks; 0 is unlimited."},
		{Name: "retry.on", Type: api.TypeList, Check: checkStatusList,
			Description: "Status codes retried with backoff beyond the defaults (408, 425, 429, 5xx): codes (409), ranges (500-504) or classes (4xx)."},
		{Name: "drop.on", Type: api.TypeList, Check: checkStatusList,
			Description: "Status codes whose record is rejected (dead-letter sink or task failure, per errors.tolerance) instead of retried, in the same notation. May not overlap retry.on."},
		{Name: "retry.after.max.ms", Type: api.TypeInt, Default: "300000", Check: api.Range(0, 3600000),
			Description: "Cap on the wait a Retry-After header may ask for; 0 ignores the header."},
		{Name: "auth", Type: api.TypeString, Default: "none", Enum: []string{"none", "basic", "api-key", "oauth2"},
			Description: "How requests authenticate, as EventBridge connections do."},
		{Name: "auth.username", Type: api.TypeString,
			Description: "auth=basic: the user name (no colon)."},
		{Name: "auth.password", Type: api.TypeString, Secret: true,
			Description: "auth=basic: the password."},
		{Name: "auth.header", Type: api.TypeString,
			Description: "auth=api-key: the header that carries the key, such as X-Api-Key or Authorization."},
		{Name: "auth.value", Type: api.TypeString, Secret: true,
			Description: "auth=api-key: the key, sent as the header's value."},
		{Name: "auth.token.url", Type: api.TypeString,
			Description: "auth=oauth2: the token endpoint (client credentials grant), http or https."},
		{Name: "auth.client.id", Type: api.TypeString,
			Description: "auth=oauth2: the client id."},
		{Name: "auth.client.secret", Type: api.TypeString, Secret: true,
			Description: "auth=oauth2: the client secret."},
		{Name: "auth.scope", Type: api.TypeString,
			Description: "auth=oauth2: the scope asked for, space-separated; none when empty."},
		{Name: "auth.client.auth", Type: api.TypeString, Default: "basic", Enum: []string{"basic", "form"},
			Description: "auth=oauth2: how the client authenticates to the token endpoint: basic (HTTP Basic, RFC 6749's default) or form (client_id and client_secret in the form)."},
		{Name: "tls.ca.file", Type: api.TypeString,
			Description: "PEM CA certificates that verify the server, instead of the system's."},
		{Name: "tls.cert.file", Type: api.TypeString,
			Description: "PEM client certificate, for servers that require one (with tls.key.file)."},
		{Name: "tls.key.file", Type: api.TypeString,
			Description: "PEM key of tls.cert.file."},
		{Name: "tls.insecure.skip.verify", Type: api.TypeBool, Default: "false",
			Description: "Do not verify the server's certificate (tests only: anyone on the path can read and change the requests)."},
		{Name: headersPrefix, Prefix: true, Type: api.TypeString,
			Description: "headers.<Name>: a request header, a constant or a ${var} template over vars; at most 64."},
		{Name: queryPrefix, Prefix: true, Type: api.TypeString,
			Description: "query.<name>: a query parameter, a constant or a ${var} template over vars; at most 64."},
		{Name: tokenFormPrefix, Prefix: true, Type: api.TypeString, Secret: true,
			Description: "auth=oauth2: auth.token.form.<name>, an extra form parameter of the token request."},
		{Name: tokenHeaderPrefix, Prefix: true, Type: api.TypeString, Secret: true,
			Description: "auth=oauth2: auth.token.headers.<Name>, an extra header of the token request."},
	}...)
}()

// Families of keys with a name part.
const (
	headersPrefix     = "headers."
	queryPrefix       = "query."
	tokenFormPrefix   = "auth.token.form."
	tokenHeaderPrefix = "auth.token.headers."
)

func checkRate(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 100000 {
		return errors.New("must be between 0 and 100000 requests per second")
	}
	return nil
}

func checkStatusList(v string) error {
	_, err := parseStatusRanges(v)
	return err
}

func parseVars(v string) (map[string]string, error) {
	if v == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(v), &m); err != nil || m == nil {
		return nil, errors.New(`must be a JSON object of name to JSONPath, such as {"id": "$.data.id"}`)
	}
	if len(m) > maxVars {
		return nil, fmt.Errorf("at most %d variables", maxVars)
	}
	return m, nil
}

func checkVars(v string) error {
	if _, err := parseVars(v); err != nil {
		return err
	}
	return template.CheckValue(v)
}

// validateSink checks what spans several fields, and the key families.
// The compiled pieces are built by compileSink, which New calls too, so
// what validation accepts is exactly what a task runs.
func validateSink(c api.Config) error {
	_, errs := compileSink(c)
	if errs != nil {
		return &api.ValidationError{Fields: errs}
	}
	return nil
}

// compiled is the part of a sink's config that validation builds.
type compiled struct {
	enc     encoder
	classes statusClasses
	header  string   // auth: header name (basic, api-key)
	value   string   // auth: header value
	hidden  []string // auth: other secret texts
	tokForm url.Values
	tokHdr  map[string]string
}

func compileSink(c api.Config) (*compiled, []api.FieldError) {
	var errs []api.FieldError
	fail := func(field, msg string) { errs = append(errs, api.FieldError{Field: field, Message: msg}) }
	addErr := func(err error) {
		var ve *api.ValidationError
		if errors.As(err, &ve) {
			errs = append(errs, ve.Fields...)
		} else if err != nil {
			fail("url", err.Error())
		}
	}
	out := &compiled{}
	e := &out.enc
	e.method = c.String("method")
	if e.method == "" {
		e.method = nethttp.MethodPost
	}
	e.bodyless = e.method == nethttp.MethodGet || e.method == nethttp.MethodDelete
	for i, name := range batchNames {
		if c.String("batch") == name {
			e.batch = batchMode(i)
		}
	}

	// URL, query and headers.
	u, err := urlParam.Compile(c)
	addErr(err)
	e.url = u
	vars := c.String("vars")
	all := c.Map()
	for _, k := range slices.Sorted(maps.Keys(all)) {
		v := all[k]
		switch {
		case strings.HasPrefix(k, headersPrefix):
			name := k[len(headersPrefix):]
			switch {
			case !validHeaderName(name):
				fail(k, fmt.Sprintf("the header name must be an HTTP token of at most %d bytes", maxNameBytes))
				continue
			case reservedHeader(name):
				fail(k, "this header is set by the sink: credentials go in auth (its secrets are never shown), framing is the transport's")
				continue
			case len(e.headers) == maxHeaders:
				fail(k, fmt.Sprintf("at most %d headers", maxHeaders))
				continue
			}
			if len(v) > maxHeaderValueBytes || !validHeaderValue(v) {
				fail(k, fmt.Sprintf("the value must be at most %d bytes without control characters", maxHeaderValueBytes))
				continue
			}
			val, err := compileValue(nethttp.CanonicalHeaderKey(name), v, vars)
			if err != nil {
				fail(k, err.Error())
				continue
			}
			e.headers = append(e.headers, val)
		case strings.HasPrefix(k, queryPrefix):
			name := k[len(queryPrefix):]
			switch {
			case name == "" || len(name) > maxNameBytes:
				fail(k, fmt.Sprintf("the parameter name must be 1 to %d bytes", maxNameBytes))
				continue
			case len(v) > maxURLBytes:
				fail(k, fmt.Sprintf("the value must be at most %d bytes", maxURLBytes))
				continue
			case len(e.query) == maxQueryParams:
				fail(k, fmt.Sprintf("at most %d query parameters", maxQueryParams))
				continue
			}
			val, err := compileValue(name, v, vars)
			if err != nil {
				fail(k, err.Error())
				continue
			}
			e.query = append(e.query, val)
		}
	}
	slices.SortFunc(e.headers, func(a, b value) int { return strings.Compare(a.name, b.name) })
	for i := 1; i < len(e.headers); i++ {
		if e.headers[i].name == e.headers[i-1].name {
			fail(headersPrefix+e.headers[i].name, "is set twice (header names are case-insensitive)")
		}
	}
	if u != nil {
		if base, ok := u.Constant(); ok {
			full := base
			constQuery := true
			for _, q := range e.query {
				if q.t != nil {
					constQuery = false
				} else if q.constant != "" {
					full = appendQuery(full, q.name, q.constant)
				}
			}
			field := "url"
			if !c.Has("url") {
				field = "url.value"
			}
			if err := checkURL(full); err != nil {
				fail(field, err.Error())
			} else if constQuery {
				e.fixedURL = full
			}
		}
	}

	// Body and batch.
	e.body = kit.BodyOf(c)
	isTmpl := c.String("body") == "template"
	switch {
	case isTmpl && c.String("body.form") == "":
		fail("body.form", "body=template needs body.form (ORIGINAL, JSONPATH, CONSTANT or TEMPLATE)")
	case !isTmpl && (c.Has("body.form") || c.Has("body.value") || c.Has("body.template")):
		fail("body", "body.form, body.value and body.template are used only with body=template")
	case isTmpl:
		m := c.Map()
		delete(m, "body")
		p, err := bodyParam.Compile(api.NewConfig(m))
		if err != nil {
			addErr(err)
		} else {
			e.bodyTmpl = p
		}
	}
	switch {
	case e.batch != batchNone && e.bodyless:
		fail("batch", e.method+" requests carry no body, so they cannot carry a batch")
	case e.batch != batchNone && e.body == kit.BodyBinary && !isTmpl:
		fail("batch", "body=binary puts one event's attributes in the headers, so it cannot be batched; use body=structured or batch=cloudevents-batch")
	case e.batch == batchCloudEvents && (isTmpl || e.body != kit.BodyStructured):
		fail("batch", "cloudevents-batch holds structured events: set body=structured, or use batch=json-array")
	}

	// Response classes.
	out.classes.retry, _ = parseStatusRanges(c.String("retry.on"))
	out.classes.drop, _ = parseStatusRanges(c.String("drop.on"))
	if r, ok := overlap(out.classes.retry, out.classes.drop); ok {
		fail("drop.on", fmt.Sprintf("overlaps retry.on at %d-%d", r.lo, r.hi))
	}

	// Authentication.
	kind := c.String("auth")
	uses := map[string][]string{
		"basic":   {"auth.username", "auth.password"},
		"api-key": {"auth.header", "auth.value"},
		"oauth2":  {"auth.token.url", "auth.client.id", "auth.client.secret"},
	}
	for k, fields := range uses {
		for _, f := range fields {
			switch {
			case k == kind && c.String(f) == "":
				fail(f, "is required with auth="+kind)
			case k != kind && c.String(f) != "":
				fail(f, "is set but auth is "+cmp.Or(kind, "none"))
			}
		}
	}
	if kind != "oauth2" {
		for _, f := range []string{"auth.scope"} {
			if c.String(f) != "" {
				fail(f, "is set but auth is "+cmp.Or(kind, "none"))
			}
		}
		for k := range all {
			if strings.HasPrefix(k, tokenFormPrefix) || strings.HasPrefix(k, tokenHeaderPrefix) {
				fail(k, "is set but auth is "+cmp.Or(kind, "none"))
			}
		}
	}
	switch kind {
	case "basic":
		if strings.Contains(c.String("auth.username"), ":") {
			fail("auth.username", "may not hold a colon (HTTP Basic separates the password with one)")
		}
		enc := base64.StdEncoding.EncodeToString([]byte(c.String("auth.username") + ":" + c.String("auth.password")))
		out.header, out.value = "Authorization", "Basic "+enc
		out.hidden = []string{enc, c.String("auth.password")}
	case "api-key":
		h := c.String("auth.header")
		switch {
		case h == "":
		case !validHeaderName(h):
			fail("auth.header", "must be an HTTP token")
		case reservedHeader(h) && !strings.EqualFold(h, "Authorization") && !strings.EqualFold(h, "Cookie"):
			fail("auth.header", "is set by the transport")
		case slices.ContainsFunc(e.headers, func(v value) bool { return v.name == nethttp.CanonicalHeaderKey(h) }):
			fail(headersPrefix+h, "is also auth.header")
		}
		if !validHeaderValue(c.String("auth.value")) {
			fail("auth.value", "may not hold control characters")
		}
		out.header, out.value = nethttp.CanonicalHeaderKey(h), c.String("auth.value")
	case "oauth2":
		if t := c.String("auth.token.url"); t != "" {
			if err := checkURL(t); err != nil {
				fail("auth.token.url", err.Error())
			}
		}
		if len(c.String("auth.scope")) > 4096 {
			fail("auth.scope", "at most 4096 bytes")
		}
		out.tokForm, out.tokHdr = url.Values{}, map[string]string{}
		for _, k := range slices.Sorted(maps.Keys(all)) {
			v := all[k]
			if name, ok := strings.CutPrefix(k, tokenFormPrefix); ok {
				switch {
				case name == "" || len(name) > maxNameBytes || len(v) > maxHeaderValueBytes:
					fail(k, fmt.Sprintf("name of 1 to %d bytes, value of at most %d", maxNameBytes, maxHeaderValueBytes))
				case slices.Contains([]string{"grant_type", "client_id", "client_secret", "scope"}, name):
					fail(k, "is set by the sink from auth.*")
				case len(out.tokForm) == maxTokenExtras:
					fail(k, fmt.Sprintf("at most %d extra form parameters", maxTokenExtras))
				default:
					out.tokForm.Set(name, v)
				}
			}
			if name, ok := strings.CutPrefix(k, tokenHeaderPrefix); ok {
				switch {
				case !validHeaderName(name) || reservedHeader(name) || strings.EqualFold(name, "Content-Type"):
					fail(k, "must be an HTTP token the sink does not set itself")
				case len(v) > maxHeaderValueBytes || !validHeaderValue(v):
					fail(k, fmt.Sprintf("the value must be at most %d bytes without control characters", maxHeaderValueBytes))
				case len(out.tokHdr) == maxTokenExtras:
					fail(k, fmt.Sprintf("at most %d extra headers", maxTokenExtras))
				default:
					out.tokHdr[nethttp.CanonicalHeaderKey(name)] = v
				}
			}
		}
		if sc := c.String("auth.scope"); sc != "" {
			out.tokForm.Set("scope", sc)
		}
	}

	// TLS.
	if (c.String("tls.cert.file") == "") != (c.String("tls.key.file") == "") {
		fail("tls.cert.file", "tls.cert.file and tls.key.file go together")
	}
	return out, errs
}

// tlsConfig builds the client's TLS settings; nil keeps the defaults.
func tlsConfig(c api.Config) (*tls.Config, error) {
	ca, cert, key, skip := c.String("tls.ca.file"), c.String("tls.cert.file"), c.String("tls.key.file"), c.Bool("tls.insecure.skip.verify")
	if ca == "" && cert == "" && !skip {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skip} //nolint:gosec // only when the user asks
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("tls.ca.file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca.file %s holds no PEM certificate", ca)
		}
		tc.RootCAs = pool
	}
	if cert != "" {
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("tls.cert.file/tls.key.file: %w", err)
		}
		tc.Certificates = []tls.Certificate{kp}
	}
	return tc, nil
}

type sink struct {
	log        *slog.Logger
	enc        encoder
	classes    statusClasses
	auth       *auth
	inFlight   int
	batchMax   int
	batchBytes int
	timeout    time.Duration
	retryAfter time.Duration // cap on Retry-After
	limit      *limiter
	transport  *nethttp.Transport
	client     *nethttp.Client
	seed       maphash.Seed

	// resume skips, on the engine's retry of a failed Write, the records
	// that Write already delivered, so a retry does not send them again.
	resume kit.Resume
}

func newSink(tc api.TaskConfig) (api.Sink, error) {
	c := tc.Config
	comp, errs := compileSink(c)
	if errs != nil {
		return nil, api.Fatal(&api.ValidationError{Fields: errs})
	}
	tlsc, err := tlsConfig(c)
	if err != nil {
		return nil, api.Fatal(fmt.Errorf("http sink: %w", err))
	}
	s := &sink{
		log:        tc.Logger,
		enc:        comp.enc,
		classes:    comp.classes,
		inFlight:   max(1, c.Int("max.in.flight")),
		batchMax:   max(1, c.Int("batch.max.records")),
		batchBytes: max(1024, c.Int("batch.max.bytes")),
		timeout:    time.Duration(c.Int("timeout.ms")) * time.Millisecond,
		retryAfter: time.Duration(c.Int("retry.after.max.ms")) * time.Millisecond,
		seed:       maphash.MakeSeed(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	rate := c.Float("rate.limit")
	if rate > 0 {
		s.limit = newLimiter(rate / float64(max(1, tc.Tasks)))
	}
	s.transport = nethttp.DefaultTransport.(*nethttp.Transport).Clone()
	s.transport.TLSClientConfig = tlsc
	s.transport.MaxIdleConnsPerHost = s.inFlight + 1
	s.client = &nethttp.Client{
		Transport: s.transport,
		// Redirects are not followed: the transport would forward an
		// API key header to whatever host the server names. A 3xx is
		// an answer like any other (rejected unless retry.on says so).
		CheckRedirect: func(*nethttp.Request, []*nethttp.Request) error { return nethttp.ErrUseLastResponse },
	}
	switch c.String("auth") {
	case "basic", "api-key":
		s.auth = &auth{header: comp.header, value: comp.value, hidden: comp.hidden}
	case "oauth2":
		s.auth = &auth{oauth: &tokenSource{
			url:          c.String("auth.token.url"),
			clientID:     c.String("auth.client.id"),
			clientSecret: c.String("auth.client.secret"),
			basic:        c.String("auth.client.auth") != "form",
			form:         comp.tokForm,
			headers:      comp.tokHdr,
			client:       s.client,
			timeout:      s.timeout,
			retryAfter:   s.retryAfter,
			now:          time.Now,
			log:          s.log,
		}}
	}
	return s, nil
}

// Open fetches the OAuth2 token, so wrong client credentials fail the
// task at start with the token endpoint's answer. Nothing else is
// checked: an endpoint may be down now and up at the first event.
func (s *sink) Open(ctx context.Context) error {
	if s.auth != nil && s.auth.oauth != nil {
		if _, _, err := s.auth.oauth.get(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close drops the idle connections. Requests have all returned by now:
// Write does not return before its requests do.
func (s *sink) Close(context.Context) error {
	s.transport.CloseIdleConnections()
	return nil
}

// Write sends every record before it returns, in requests of one record
// or one batch. Records are spread over max.in.flight groups by the hash
// of their key; a group's requests go one after another, so a key's
// records arrive in order. A group stops at its first transient failure
// (a retried status or a network error) and Write returns a retryable
// error carrying the longest Retry-After any group was given; the
// engine's retry of the same batch then skips the records this Write
// delivered (by source and id). Records a server refused come back in
// api.RecordErrors with the status and the start of the answer.
func (s *sink) Write(ctx context.Context, records []api.Record) error {
	return s.resume.Write(records, func() error { return s.write(ctx, records) })
}

func (s *sink) write(ctx context.Context, records []api.Record) error {
	idx := make([]int, 0, len(records))
	for i := range records {
		if !s.resume.Skip(records, i) {
			idx = append(idx, i)
		}
	}
	groups := kit.PartitionByKey(idx, s.inFlight, func(i *int) uint64 {
		if k := records[*i].Key; len(k) > 0 {
			return maphash.Bytes(s.seed, k)
		}
		return uint64(*i)
	})
	// The groups' Retry-After hints survive the join: api.BackoffHint
	// takes the longest in the error tree.
	bad, err := kit.RunParallel(ctx, groups, s.inFlight, func(ctx context.Context, g []int) (api.RecordErrors, error) {
		return s.sendGroup(ctx, records, g)
	})
	return kit.WriteResult(ctx, bad, err)
}

// pending is a batch being filled.
type pending struct {
	idx  []int
	tgt  target
	body []byte
}

// sendGroup sends one group's records in order, stopping at the first
// transient failure.
func (s *sink) sendGroup(ctx context.Context, records []api.Record, idx []int) (api.RecordErrors, error) {
	var (
		bad api.RecordErrors
		buf []byte
	)
	// settle applies a request's outcome to the records it carried: idx
	// when set, else the one record i.
	settle := func(idx []int, i int, o outcome) error {
		if idx == nil {
			idx = []int{i}
		}
		switch o.class {
		case classWritten:
			for _, i := range idx {
				s.resume.Stored(i)
			}
		case classReject:
			for _, i := range idx {
				bad = append(bad, kit.Reject(i, o.err))
			}
		default:
			return o.err
		}
		return nil
	}
	if s.enc.batch == batchNone {
		for _, i := range idx {
			ev := &records[i].Event
			// The binding's headers first, so the user's win.
			h := make(nethttp.Header, len(s.enc.headers)+8)
			body, err := s.enc.single(ev, h)
			var tgt target
			if err == nil {
				tgt, err = s.enc.target(ev, &buf, h)
			}
			if err != nil {
				bad = append(bad, kit.Reject(i, fmt.Errorf("http sink: %w", err)))
				continue
			}
			if err := settle(nil, i, s.send(ctx, tgt.url, h, body)); err != nil {
				return bad, err
			}
		}
		return bad, nil
	}

	var p pending
	flush := func() error {
		if len(p.idx) == 0 {
			return nil
		}
		h := make(nethttp.Header, len(p.tgt.header)+4)
		h.Set("Content-Type", s.enc.contentType())
		for k, v := range p.tgt.header {
			h[k] = v
		}
		body := append(p.body, ']')
		err := settle(p.idx, 0, s.send(ctx, p.tgt.url, h, body))
		p = pending{}
		return err
	}
	var el []byte
	for _, i := range idx {
		ev := &records[i].Event
		tgt, err := s.enc.target(ev, &buf, nil)
		if err == nil {
			el, err = s.enc.element(ev, el[:0])
		}
		if err != nil {
			bad = append(bad, kit.Reject(i, fmt.Errorf("http sink: %w", err)))
			continue
		}
		if len(p.idx) > 0 && (tgt.key != p.tgt.key || len(p.idx) == s.batchMax || len(p.body)+1+len(el)+1 > s.batchBytes) {
			if err := flush(); err != nil {
				return bad, err
			}
		}
		if len(p.idx) == 0 {
			p.tgt = tgt
			p.body = make([]byte, 0, min(s.batchBytes, max(len(el)*min(len(idx), s.batchMax)+16, 64)))
			p.body = append(p.body, '[')
		} else {
			p.body = append(p.body, ',')
		}
		p.body = append(p.body, el...)
		p.idx = append(p.idx, i)
	}
	if err := flush(); err != nil {
		return bad, err
	}
	return bad, nil
}

// outcome is how one request ended.
type outcome struct {
	class class
	// classRetry: the error that stops the group, marked for the engine
	// (retryable, or fatal when the token endpoint refused the client);
	// classReject: the reason the records are rejected.
	err error
}

// send makes one request and sorts its answer. A 401 with OAuth2 drops
// the token and tries once more with a new one.
func (s *sink) send(ctx context.Context, u string, h nethttp.Header, body []byte) outcome {
	for attempt := 0; ; attempt++ {
		if d := s.limit.reserve(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return outcome{classRetry, ctx.Err()}
			case <-t.C:
			}
		}
		code, answer, retryAfter, gen, err := s.roundTrip(ctx, u, h, body)
		if err != nil {
			return outcome{classRetry, err}
		}
		if code == nethttp.StatusUnauthorized && attempt == 0 && s.auth.unauthorized(gen) {
			continue
		}
		cl := s.classes.classify(code)
		if cl == classWritten {
			return outcome{classWritten, nil}
		}
		serr := &StatusError{Method: s.enc.method, URL: safeURL(u), Code: code, Body: snippet(answer, s.auth.secrets()...)}
		if cl == classReject {
			return outcome{classReject, serr}
		}
		if retryAfter > 0 {
			return outcome{classRetry, api.RetryAfter(serr, retryAfter)}
		}
		return outcome{classRetry, api.Retryable(serr)}
	}
}

// roundTrip sends one request and reads its answer: the status, the
// start of the body (for errors), the Retry-After wait and the token
// generation used. err is a transport failure, already marked.
func (s *sink) roundTrip(ctx context.Context, u string, h nethttp.Header, body []byte) (code int, answer []byte, retryAfter time.Duration, gen uint64, err error) {
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := nethttp.NewRequestWithContext(rctx, s.enc.method, u, rd)
	if err != nil {
		return 0, nil, 0, 0, api.Fatal(fmt.Errorf("http sink: %s %s: %v", s.enc.method, safeURL(u), transportCause(err)))
	}
	req.Header = h
	if gen, err = s.auth.apply(rctx, req); err != nil {
		if ctx.Err() != nil {
			return 0, nil, 0, 0, ctx.Err()
		}
		return 0, nil, 0, 0, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, 0, 0, ctx.Err()
		}
		return 0, nil, 0, gen, api.Retryable(fmt.Errorf("%w: %s %s: %v", errRequest, s.enc.method, safeURL(u), transportCause(err)))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		answer, _ = io.ReadAll(io.LimitReader(resp.Body, 4*errorBodyBytes))
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now(), s.retryAfter)
	}
	// Read what is left (bounded) so the connection can serve the next
	// request; a longer answer closes it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainBytes))
	return resp.StatusCode, answer, retryAfter, gen, nil
}

// StatusError is a request the server answered with a status other than
// 2xx: the record is rejected or retried by its class. Body is the start
// of the answer, quoted, with the sink's secrets replaced.
type StatusError struct {
	Method string
	URL    string // scheme, host and path only
	Code   int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("http sink: %s %s answered %d %s: %s", e.Method, e.URL, e.Code, nethttp.StatusText(e.Code), e.Body)
}
