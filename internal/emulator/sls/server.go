package sls

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server is one emulated SLS endpoint. Its methods are safe for concurrent
// use.
type Server struct {
	cfg     Config
	handler http.Handler
	reqID   atomic.Uint64

	// mu guards projects and everything reachable from it; no other lock
	// is taken while it is held.
	mu       sync.Mutex
	projects map[string]*project

	// life guards the listener lifecycle below (never held with mu).
	life      sync.Mutex
	ln        net.Listener
	srv       *http.Server
	serveErr  error         // Serve's result, set before serveDone closes
	serveDone chan struct{} // closed when the serving goroutine returns
	closed    bool
	stopped   chan struct{}
}

// New validates cfg and returns a Server that is not yet listening.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg.withDefaults(),
		projects: make(map[string]*project),
		stopped:  make(chan struct{}),
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the emulator as an http.Handler, for httptest.Server or a
// caller's own listener; Start, Run and Close are then not needed.
func (s *Server) Handler() http.Handler { return s.handler }

// Start binds Config.Addr and serves in the background until Close. Calling
// it again is a no-op.
func (s *Server) Start() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("sls emulator: listen %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.serveDone = make(chan struct{})
	srv, done := s.srv, s.serveDone
	go func() {
		s.serveErr = srv.Serve(ln)
		close(done)
	}()
	return nil
}

// Run serves (starting first if needed) until ctx ends, then closes the
// server. It returns nil on a clean stop and the serve error otherwise.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	s.life.Lock()
	done := s.serveDone
	s.life.Unlock()
	select {
	case <-ctx.Done():
		return s.Close()
	case <-done:
		_ = s.Close()
		if err := s.serveErr; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("sls emulator: serve: %w", err)
		}
		return nil
	case <-s.stopped:
		return nil
	}
}

// Close stops listening, waits for in-flight requests (at most 5 s) and for
// the serving goroutine. It is idempotent; the data stays readable.
func (s *Server) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	defer close(s.stopped)
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.serveDone
	return err
}

// Addr returns the address the server listens on, or Config.Addr before
// Start.
func (s *Server) Addr() string {
	s.life.Lock()
	defer s.life.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.cfg.Addr
}

// Endpoint returns "http://" + Addr(), the value for the SDK's Endpoint.
func (s *Server) Endpoint() string { return "http://" + s.Addr() }

// HTTPClient returns a client that reaches this server whatever host a URL
// names; give it to the SDK (see the package doc, "Addressing").
func (s *Server) HTTPClient() *http.Client { return NewHTTPClient(s.Addr()) }

// NewHTTPClient returns an http.Client whose transport dials addr for every
// request, so the SDK's "<project>.<endpoint>" URLs reach an emulator at
// addr without DNS. It does not follow the host for TLS: plain HTTP only.
func NewHTTPClient(addr string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     30 * time.Second,
			// SLS bodies carry their own compression headers; the
			// transport must not add or strip gzip.
			DisableCompression: true,
		},
	}
}
