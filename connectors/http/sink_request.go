package http

import (
	"fmt"
	nethttp "net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/transform/template"
)

// Bounds of what one request may carry.
const (
	maxURLBytes         = 8 << 10
	maxHeaderValueBytes = 8 << 10
	maxNameBytes        = 256
	maxHeaders          = 64
	maxQueryParams      = 64
	// errorBodyBytes is how much of a refused request's answer goes into
	// its error (and so into the dead-letter record).
	errorBodyBytes = 512
	// drainBytes is how much of an answer is read to keep the connection
	// for the next request; a longer answer closes it.
	drainBytes = 64 << 10
)

// Media types the sink sends.
const (
	jsonType      = "application/json"
	textType      = "text/plain; charset=utf-8"
	batchTypeJSON = batchType + "; charset=UTF-8"
)

type batchMode uint8

const (
	batchNone batchMode = iota
	batchJSONArray
	batchCloudEvents
)

var batchNames = []string{"none", "json-array", "cloudevents-batch"}

// value is a header or query value: a constant or a text template over
// the sink's vars.
type value struct {
	name     string
	constant string
	t        *template.Template
}

// compileValue compiles the value of headers.<name> or query.<name>. A
// value without ${ is a constant; one that is exactly one placeholder
// writes the variable's text (a JSONPATH); any other is a template of
// the vars (whose output is JSON when the text is a JSON template).
func compileValue(name, text, vars string) (value, error) {
	if !strings.Contains(text, "${") {
		return value{name: name, constant: text}, nil
	}
	if v, ok := strings.CutPrefix(text, "${"); ok && strings.HasSuffix(v, "}") && !strings.ContainsAny(v[:len(v)-1], "${}") {
		path, err := varPath(vars, v[:len(v)-1])
		if err != nil {
			return value{}, err
		}
		t, err := template.Compile(template.JSONPath, path, "")
		if err != nil {
			return value{}, err
		}
		return value{name: name, t: t}, nil
	}
	t, err := template.Compile(template.Tmpl, vars, text)
	if err != nil {
		return value{}, err
	}
	return value{name: name, t: t}, nil
}

// varPath returns the JSONPath of variable name in vars.
func varPath(vars, name string) (string, error) {
	m, err := parseVars(vars)
	if err != nil {
		return "", err
	}
	p, ok := m[name]
	if !ok {
		return "", fmt.Errorf("${%s} has no variable in vars", name)
	}
	return p, nil
}

// render returns the value for ev, using buf as scratch.
func (v *value) render(ev *api.Event, buf *[]byte) (string, error) {
	if v.t == nil {
		return v.constant, nil
	}
	out, err := v.t.Render(ev, (*buf)[:0])
	*buf = out
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// encoder turns records into requests. It is immutable and safe for
// concurrent use; callers pass their own scratch buffers.
type encoder struct {
	url      *template.Param
	fixedURL string // the whole URL, query included, when nothing in it comes from the event
	method   string
	bodyless bool    // GET and DELETE carry no body
	headers  []value // canonical names, sorted
	query    []value
	body     kit.Body
	bodyTmpl *template.Param // body=template
	batch    batchMode
}

// target is where a record goes: its URL and its own headers.
type target struct {
	url    string
	header nethttp.Header
	key    string // url and header values, to tell whether records may share a batch
}

// target renders the URL, query and headers of ev, the headers into h
// (a new map when nil). Its errors are the record's own fault: a URL or
// header value the event made invalid.
func (e *encoder) target(ev *api.Event, buf *[]byte, h nethttp.Header) (target, error) {
	t := target{header: h}
	if t.url = e.fixedURL; t.url == "" {
		base, err := e.url.Render(ev, (*buf)[:0])
		*buf = base
		if err != nil {
			return t, err
		}
		u := string(base)
		for i := range e.query {
			q := &e.query[i]
			v, err := q.render(ev, buf)
			if err != nil {
				return t, fmt.Errorf("query.%s: %w", q.name, err)
			}
			if v == "" {
				continue
			}
			u = appendQuery(u, q.name, v)
		}
		if err := checkURL(u); err != nil {
			return t, fmt.Errorf("%w: %v", errTarget, err)
		}
		t.url = u
	}
	if t.header == nil {
		t.header = make(nethttp.Header, len(e.headers)+4)
	}
	var key strings.Builder
	if e.batch != batchNone {
		key.WriteString(t.url)
	}
	for i := range e.headers {
		h := &e.headers[i]
		v, err := h.render(ev, buf)
		if err != nil {
			return t, fmt.Errorf("headers.%s: %w", h.name, err)
		}
		if v == "" {
			continue
		}
		if len(v) > maxHeaderValueBytes || !validHeaderValue(v) {
			return t, fmt.Errorf("%w: header %s: the event made a value over %d bytes or with control characters", errTarget, h.name, maxHeaderValueBytes)
		}
		t.header[h.name] = []string{v}
		if e.batch != batchNone {
			key.WriteString("\x00" + h.name + "\x00" + v)
		}
	}
	t.key = key.String()
	return t, nil
}

// appendQuery adds name=value to u's query, before any fragment.
func appendQuery(u, name, v string) string {
	frag := ""
	if i := strings.IndexByte(u, '#'); i >= 0 {
		u, frag = u[:i], u[i:]
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
		if strings.HasSuffix(u, "?") || strings.HasSuffix(u, "&") {
			sep = ""
		}
	}
	return u + sep + url.QueryEscape(name) + "=" + url.QueryEscape(v) + frag
}

// single returns the body of a request carrying ev alone and sets the
// headers that go with it in h (before the user's headers, which win).
// Its errors are the record's own fault.
func (e *encoder) single(ev *api.Event, h nethttp.Header) ([]byte, error) {
	set := func(k, v string) { h[nethttp.CanonicalHeaderKey(k)] = []string{v} }
	switch {
	case e.bodyTmpl != nil:
		if e.bodyless {
			return nil, nil
		}
		out, err := e.bodyTmpl.Render(ev, nil)
		if err != nil {
			return nil, err
		}
		set("Content-Type", textType)
		if api.ValidJSON(out) {
			set("Content-Type", jsonType)
		}
		return out, nil
	case e.bodyless:
		if e.body == kit.BodyBinary {
			if err := kit.HTTP.EncodeHeaders(ev, set); err != nil {
				return nil, err
			}
			delete(h, "Content-Type")
		}
		return nil, nil
	}
	out, err := kit.HTTP.Encode(e.body, ev, nil, set)
	if err != nil {
		return nil, err
	}
	if e.body == kit.BodyData && ev.DataContentType != "" && len(out) > 0 {
		set("Content-Type", ev.DataContentType)
	}
	return out, nil
}

// element appends ev as one member of a batch's JSON array to dst: the
// structured event, or the data or rendered template, inline when it is
// JSON and as a JSON string when it is text. Binary data cannot be a
// member: that is the record's fault.
func (e *encoder) element(ev *api.Event, dst []byte) ([]byte, error) {
	start := len(dst)
	var raw []byte
	switch {
	case e.bodyTmpl != nil:
		out, err := e.bodyTmpl.Render(ev, dst)
		if err != nil {
			return dst[:start], err
		}
		dst, raw = out, out[start:]
	case e.body == kit.BodyData:
		if len(ev.Data) == 0 {
			return append(dst, "null"...), nil
		}
		dst, raw = append(dst, ev.Data...), ev.Data
	default:
		return ev.AppendJSON(dst)
	}
	if api.ValidJSON(raw) {
		return dst, nil
	}
	if !utf8.Valid(raw) {
		return dst[:start], fmt.Errorf("%w: the body is neither JSON nor UTF-8 text, so it cannot be a member of a JSON array", errTarget)
	}
	text := string(raw)
	return api.AppendJSONString(dst[:start], text), nil
}

// contentType is the Content-Type of a batch request.
func (e *encoder) contentType() string {
	if e.batch == batchCloudEvents {
		return batchTypeJSON
	}
	return jsonType
}

// checkURL applies the sink's rules to a URL: at most maxURLBytes, http
// or https, a host, and no user:password (credentials go in auth, whose
// secrets are never shown).
func checkURL(s string) error {
	if len(s) > maxURLBytes {
		return fmt.Errorf("the URL is %d bytes, at most %d", len(s), maxURLBytes)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %v", transportCause(err))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme %q: only http and https are allowed", clip(u.Scheme, 16))
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("the URL has no host")
	case u.User != nil:
		return fmt.Errorf("the URL holds user information; use auth=basic instead")
	}
	return nil
}

// safeURL is u as errors and logs show it: scheme, host and path, without
// user information, query or fragment, which may hold credentials.
func safeURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return clip(p.Scheme+"://"+p.Host+p.EscapedPath(), 256)
}

// snippet is the first errorBodyBytes of an answer, as printable text,
// with every secret replaced.
func snippet(body []byte, secrets ...string) string {
	s := strings.ToValidUTF8(string(body[:min(len(body), 4*errorBodyBytes)]), "\uFFFD")
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, api.Redacted)
		}
	}
	s = clip(s, errorBodyBytes)
	// A secret cut by the clip would leave its start behind.
	for _, sec := range secrets {
		for k := min(len(sec)-1, len(s)); k >= 4; k-- {
			if strings.HasSuffix(s, sec[:k]) || strings.HasSuffix(s, sec[:k]+"…") {
				s = strings.TrimSuffix(strings.TrimSuffix(s, "…"), sec[:k]) + api.Redacted
				break
			}
		}
	}
	return fmt.Sprintf("%q", s)
}

// clip cuts s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 5.6.2).
func validHeaderName(s string) bool {
	if s == "" || len(s) > maxNameBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s may be sent as a header value: no
// control characters but tab (so no CR, LF or NUL to split a request).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// reservedHeaders may not be set through headers.<name>: the transport
// owns framing and routing, and credentials belong in auth's secret
// fields, which are never shown.
var reservedHeaders = []string{
	"Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Proxy-Connection",
	"Te", "Trailer", "Upgrade", "Authorization", "Proxy-Authorization", "Cookie",
}

func reservedHeader(name string) bool {
	return slices.Contains(reservedHeaders, nethttp.CanonicalHeaderKey(name))
}
