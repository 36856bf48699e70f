package rest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/ui"
)

// AuthMode names how REST callers prove who they are.
type AuthMode string

// Authentication modes of the REST API (docs/security.md).
const (
	// AuthNone lets every caller in with the admin role. The default only
	// on a loopback listen address.
	AuthNone AuthMode = "none"
	// AuthBasic checks HTTP Basic credentials against AuthConfig.UsersFile.
	AuthBasic AuthMode = "basic"
	// AuthToken checks bearer tokens against AuthConfig.TokensFile.
	AuthToken AuthMode = "token"
	// AuthMTLS trusts the client certificate the TLS layer verified against
	// TLSConfig.ClientCAFile; every such client has the admin role.
	AuthMTLS AuthMode = "mtls"
)

// Role is what an authenticated caller may do.
type Role string

// Roles. read may call GET (and HEAD) routes: lists, configs (secrets
// redacted), status, offsets, metrics. admin may call everything.
const (
	RoleRead  Role = "read"
	RoleAdmin Role = "admin"
)

// AuthConfig configures REST authentication.
type AuthConfig struct {
	// Mode; empty means none on a loopback listen address, and is refused
	// on any other (a worker reachable from other machines must say how it
	// is protected, even if the answer is none).
	Mode AuthMode
	// TokensFile (token mode) holds one token a line, optionally followed
	// by a space and its role (admin when omitted); # starts a comment.
	// It is re-read when it changes.
	TokensFile string
	// UsersFile (basic mode) holds "user:password [role]" lines; the
	// password may be given as sha256:<hex of its SHA-256>. Re-read when it
	// changes.
	UsersFile string
	// PublicMetrics serves GET /metrics without credentials (for a
	// Prometheus that scrapes without them). GET /health is always public.
	PublicMetrics bool
}

// credReloadEvery bounds how often a credentials or certificate file is
// looked at for changes: at most one stat a second, on the request path.
const credReloadEvery = time.Second

// watched is a file-backed value re-read when one of its files changes
// (size or modification time), checked at most once per credReloadEvery.
// A change that fails to parse keeps the last good value and is reported
// once through onErr.
type watched[T any] struct {
	paths []string
	parse func() (T, error)
	onErr func(error)

	mu      sync.Mutex
	checked time.Time
	stamp   string
	val     T
}

func newWatched[T any](parse func() (T, error), onErr func(error), paths ...string) (*watched[T], error) {
	w := &watched[T]{paths: paths, parse: parse, onErr: onErr}
	stamp, err := w.stat()
	if err != nil {
		return nil, err
	}
	v, err := parse()
	if err != nil {
		return nil, err
	}
	w.stamp, w.val, w.checked = stamp, v, time.Now()
	return w, nil
}

func (w *watched[T]) stat() (string, error) {
	var b strings.Builder
	for _, p := range w.paths {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

func (w *watched[T]) get() T {
	w.mu.Lock()
	defer w.mu.Unlock()
	if time.Since(w.checked) < credReloadEvery {
		return w.val
	}
	w.checked = time.Now()
	stamp, err := w.stat()
	if err != nil || stamp == w.stamp {
		return w.val
	}
	w.stamp = stamp // a bad version is reported once, not every second
	v, err := w.parse()
	if err != nil {
		w.onErr(err)
		return w.val
	}
	w.val = v
	return v
}

// credentials maps the SHA-256 of a secret (a token, or "user:password")
// to its role. Hashing first makes the lookup's timing independent of how
// much of a guess was right.
type credentials map[[sha256.Size]byte]Role

// parseCredentials reads a tokens or users file. Errors name the file and
// line, never its content.
func parseCredentials(path string, basic bool) (credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("credentials file %s: %v", path, pe.Err)
		}
		return nil, fmt.Errorf("credentials file %s: cannot read", path)
	}
	out := credentials{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		role := RoleAdmin
		switch len(fields) {
		case 1:
		case 2:
			role = Role(fields[1])
			if role != RoleAdmin && role != RoleRead {
				return nil, fmt.Errorf("credentials file %s line %d: role must be read or admin", path, n)
			}
		default:
			return nil, fmt.Errorf("credentials file %s line %d: want SECRET [ROLE]", path, n)
		}
		secret := fields[0]
		if basic {
			user, pw, ok := strings.Cut(secret, ":")
			if !ok || user == "" || pw == "" {
				return nil, fmt.Errorf("credentials file %s line %d: want user:password [role]", path, n)
			}
			if h, ok := strings.CutPrefix(pw, "sha256:"); ok {
				// The file holds the password's hash: key the user by it.
				sum, err := hex.DecodeString(h)
				if err != nil || len(sum) != sha256.Size {
					return nil, fmt.Errorf("credentials file %s line %d: sha256: wants 64 hex digits", path, n)
				}
				out[sha256.Sum256(append([]byte(user+":sha256:"), sum...))] = role
				continue
			}
			pwSum := sha256.Sum256([]byte(pw))
			out[sha256.Sum256(append([]byte(user+":sha256:"), pwSum[:]...))] = role
			continue
		}
		if len(secret) < 16 {
			return nil, fmt.Errorf("credentials file %s line %d: a token must be at least 16 characters", path, n)
		}
		out[sha256.Sum256([]byte(secret))] = role
	}
	return out, nil
}

// authenticator decides the role of a request.
type authenticator struct {
	mode  AuthMode
	creds *watched[credentials] // basic and token modes
	cfg   AuthConfig
}

func newAuthenticator(cfg AuthConfig, onErr func(error)) (*authenticator, error) {
	a := &authenticator{mode: cfg.Mode, cfg: cfg}
	var path string
	switch cfg.Mode {
	case AuthNone, AuthMTLS:
		return a, nil
	case AuthToken:
		path = cfg.TokensFile
		if path == "" {
			return nil, errors.New("worker: token authentication needs a tokens file")
		}
	case AuthBasic:
		path = cfg.UsersFile
		if path == "" {
			return nil, errors.New("worker: basic authentication needs a users file")
		}
	default:
		return nil, fmt.Errorf("worker: unknown REST authentication mode %q (want none, basic, token or mtls)", cfg.Mode)
	}
	w, err := newWatched(func() (credentials, error) { return parseCredentials(path, cfg.Mode == AuthBasic) }, onErr, path)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	a.creds = w
	return a, nil
}

// role returns the caller's role, or ok=false when it is not
// authenticated.
func (a *authenticator) role(r *http.Request) (Role, bool) {
	switch a.mode {
	case AuthNone:
		return RoleAdmin, true
	case AuthMTLS:
		ok := r.TLS != nil && len(r.TLS.VerifiedChains) > 0
		return RoleAdmin, ok
	case AuthToken:
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			return "", false
		}
		role, ok := a.creds.get()[sha256.Sum256([]byte(strings.TrimSpace(tok)))]
		return role, ok
	case AuthBasic:
		user, pw, ok := r.BasicAuth()
		if !ok {
			return "", false
		}
		pwSum := sha256.Sum256([]byte(pw))
		role, ok := a.creds.get()[sha256.Sum256(append([]byte(user+":sha256:"), pwSum[:]...))]
		return role, ok
	}
	return "", false
}

// public reports whether a route needs no credentials.
func (a *authenticator) public(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch r.URL.Path {
	case "/health", ui.Prefix:
		// The dashboard's files hold no data: its API calls carry the
		// operator's credentials.
		return true
	case "/metrics":
		return a.cfg.PublicMetrics
	}
	// As routed: on the escaped path, so /ui%2F.. is not the dashboard's.
	return strings.HasPrefix(r.URL.EscapedPath(), ui.Prefix+"/")
}

// authenticate is the REST middleware that enforces AuthConfig: 401 for
// a caller without valid credentials, 403 for a read-only caller's write.
func (s *Server) authenticate(c *gin.Context) {
	a := s.auth
	if a.mode == AuthNone || a.public(c.Request) {
		c.Next()
		return
	}
	role, ok := a.role(c.Request)
	if !ok {
		switch a.mode {
		case AuthBasic:
			c.Header("WWW-Authenticate", `Basic realm="ferry", charset="UTF-8"`)
		case AuthToken:
			c.Header("WWW-Authenticate", `Bearer realm="ferry"`)
		}
		writeErrorStatus(c, http.StatusUnauthorized, "authentication required ("+string(a.mode)+")")
		return
	}
	if isWrite(c.Request.Method) && role != RoleAdmin {
		writeErrorStatus(c, http.StatusForbidden, "the "+string(role)+" role may not "+c.Request.Method+" "+c.Request.URL.Path+"; it needs admin")
		return
	}
	if h := c.Request.Header.Get("Authorization"); h != "" {
		// A write forwarded to the leader carries the caller's own
		// credentials: the leader checks them again.
		ctx := c.Request.Context()
		r := worker.RequestOf(ctx)
		r.Authorization = h
		c.Request = c.Request.WithContext(worker.WithRequest(ctx, r))
	}
	c.Next()
}

// isLoopback reports whether a listen address only accepts connections
// from this machine.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// resolveAuthMode applies the default: none on loopback; elsewhere the
// operator must choose. It returns the warnings an open API earns.
func resolveAuthMode(addr string, mode AuthMode) (AuthMode, []string, error) {
	switch {
	case mode == "" && isLoopback(addr):
		return AuthNone, nil, nil
	case mode == "":
		return "", nil, fmt.Errorf("worker: the REST API listens on %s, which other machines can reach: choose its authentication (--rest-auth token|basic|mtls, or none to run it open)", addr)
	case mode == AuthNone && !isLoopback(addr):
		return AuthNone, []string{"the REST API listens on " + addr + " without authentication: anyone who can reach it can create, change and delete connectors; set --rest-auth"}, nil
	}
	return mode, nil, nil
}
