package rest

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/gin-gonic/gin"
)

// The browser guard: a web page must never be able to drive the REST API
// of a worker it can reach (one on the operator's own machine, or inside
// the network a browser sits in). Three checks, each answering before any
// handler runs:
//
//   - Host: a request whose Host header names a host the worker does not
//     answer to is refused, so a DNS-rebinding page (attacker.example
//     re-pointed at 127.0.0.1) gets nothing. IP literals, localhost, the
//     machine's own host name, the host of the listen address and the
//     configured AllowedHosts pass; "*" allows every host.
//   - Origin: a request that carries an Origin other than its own
//     (scheme://host) is refused unless the origin is configured in
//     AllowedOrigins; CORS preflights for allowed origins are answered.
//   - Content-Type: a write (any method but GET, HEAD and OPTIONS) that has
//     a body must say application/json. A form or text/plain POST is a
//     "simple request" that a browser sends cross-site without asking;
//     application/json is not.

// guardConfig is the browser guard's settings, resolved once.
type guardConfig struct {
	anyHost bool
	hosts   map[string]bool // lower-case host names, without ports
	origins map[string]bool // scheme://host[:port], lower-case
	anyOrig bool
}

func newGuardConfig(listenAddr string, hosts, origins []string) guardConfig {
	g := guardConfig{hosts: map[string]bool{"localhost": true}, origins: map[string]bool{}}
	if h, err := os.Hostname(); err == nil && h != "" {
		g.hosts[strings.ToLower(h)] = true
	}
	if h, _, err := net.SplitHostPort(listenAddr); err == nil && h != "" {
		g.hosts[strings.ToLower(h)] = true
	}
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "*" {
			g.anyHost = true
		}
		if h != "" {
			g.hosts[h] = true
		}
	}
	for _, o := range origins {
		o = strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/"))
		if o == "*" {
			g.anyOrig = true
		}
		if o != "" {
			g.origins[o] = true
		}
	}
	return g
}

// hostAllowed reports whether a Host header names a host this worker
// answers to.
func (g guardConfig) hostAllowed(hostHeader string) bool {
	if g.anyHost {
		return true
	}
	host := hostHeader
	if h, _, err := net.SplitHostPort(hostHeader); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return false
	}
	if net.ParseIP(host) != nil {
		// A page can only reach an IP literal under that literal's own
		// origin: no rebinding is possible.
		return true
	}
	if g.hosts[host] || strings.HasSuffix(host, ".localhost") {
		return true
	}
	return false
}

// originAllowed reports whether a request's Origin may use the API: its
// own origin, or a configured one.
func (g guardConfig) originAllowed(origin string, r *http.Request) bool {
	o := strings.ToLower(strings.TrimRight(origin, "/"))
	if g.anyOrig || g.origins[o] {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false // "null" (sandboxed frames, file:) and garbage
	}
	return strings.EqualFold(u.Host, r.Host)
}

// isWrite reports whether method may change state.
func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// hasBody reports whether a request carries a body.
func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

// isJSON reports whether a Content-Type value is JSON.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// guardBrowser is the REST middleware that applies the checks above.
func (s *Server) guardBrowser(c *gin.Context) {
	r := c.Request
	if !s.guard.hostAllowed(r.Host) {
		writeErrorStatus(c, http.StatusMisdirectedRequest,
			"Host "+quoteHeader(r.Host)+" is not a name this worker answers to; add it to the worker's allowed hosts (--rest-allowed-hosts)")
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if !s.guard.originAllowed(origin, r) {
			writeErrorStatus(c, http.StatusForbidden,
				"cross-origin request from "+quoteHeader(origin)+" refused; allow the origin with --rest-allowed-origins")
			return
		}
		if o := strings.TrimRight(origin, "/"); !strings.EqualFold(o, schemeOf(r)+"://"+r.Host) {
			s.cors(c, origin)
			if r.Method == http.MethodOptions {
				c.AbortWithStatus(http.StatusNoContent)
				return
			}
		}
	}
	if isWrite(r.Method) {
		ct := r.Header.Get("Content-Type")
		if (ct != "" || hasBody(r)) && !isJSON(ct) {
			writeErrorStatus(c, http.StatusUnsupportedMediaType,
				"a "+r.Method+" request with a body must have Content-Type: application/json, got "+quoteHeader(ct))
			return
		}
	}
	c.Next()
}

// cors answers an allowed cross-origin request (or its preflight) with the
// CORS headers that let the browser pass the answer to the page.
func (s *Server) cors(c *gin.Context, origin string) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Credentials", "true")
	if c.Request.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept")
		h.Set("Access-Control-Max-Age", "600")
	}
}

func schemeOf(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// quoteHeader quotes a header value for an error message, cut to a
// readable length.
func quoteHeader(v string) string {
	const max = 100
	if len(v) > max {
		v = v[:max] + "…"
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return '?'
		}
		return r
	}, v) + `"`
}
