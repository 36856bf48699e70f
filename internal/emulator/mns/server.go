package mns

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server is one MNS emulator: an account's worth of in-memory queues and
// topics behind the MNS HTTP API.
type Server struct {
	cfg Config

	// mu guards queues, topics and the state of every queue and topic in
	// them. It is never held
	// while waiting or writing a response, and never together with lifeMu.
	mu      sync.Mutex
	queues  map[string]*queue
	topics  map[string]*topic
	dropped int64 // topic deliveries dropped (see Dropped)

	requestSeq atomic.Uint64
	// instance distinguishes this Server's request ids from those of
	// earlier runs, as MNS request ids never repeat.
	instance string

	// closing is closed by Close so long polls end at once.
	closing   chan struct{}
	closeOnce sync.Once

	lifeMu   sync.Mutex // guards httpSrv, ln, done and serveErr
	httpSrv  *http.Server
	ln       net.Listener
	done     chan struct{} // closed when the serving goroutine returns
	serveErr error
}

// New validates cfg and returns a Server that is not yet listening.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("mns: instance id: %w", err)
	}
	return &Server{
		cfg:      cfg.withDefaults(),
		queues:   map[string]*queue{},
		topics:   map[string]*topic{},
		instance: fmt.Sprintf("%X", b),
		closing:  make(chan struct{}),
	}, nil
}

// Handler returns the MNS API as an http.Handler, for mounting on a server
// the caller owns (httptest.NewServer, for example).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on Config.Addr and serves in the background until Close.
func (s *Server) Start() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.httpSrv != nil {
		return ErrStarted
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("mns: listen: %w", err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	s.ln, s.httpSrv, s.done = ln, srv, done
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.lifeMu.Lock()
			s.serveErr = fmt.Errorf("mns: serve: %w", err)
			s.lifeMu.Unlock()
		}
	}()
	return nil
}

// Addr is the address the server listens on ("" before Start).
func (s *Server) Addr() string {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Endpoint is the server's base URL, "http://127.0.0.1:port" ("" before Start).
func (s *Server) Endpoint() string {
	if a := s.Addr(); a != "" {
		return "http://" + a
	}
	return ""
}

// Close ends long polls, stops the listener and waits for the serving
// goroutine and in-flight requests. It is idempotent and safe to call
// without Start (for a Server used only through Handler).
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.lifeMu.Lock()
	srv, done := s.httpSrv, s.done
	s.lifeMu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(ctx)
	<-done
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.serveErr != nil {
		return s.serveErr
	}
	return err
}

// Run starts the server unless Start already did (so a caller can learn
// Addr before blocking), then blocks until ctx ends or serving fails, and
// closes it.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil && !errors.Is(err, ErrStarted) {
		return err
	}
	s.lifeMu.Lock()
	done := s.done
	s.lifeMu.Unlock()
	select {
	case <-ctx.Done():
	case <-done:
	}
	return s.Close()
}

// requestID returns a fresh MNS-style request id.
func (s *Server) requestID() string {
	return fmt.Sprintf("%s%08X", s.instance, s.requestSeq.Add(1))
}

// newIDPrefix returns a random prefix for a new queue's message ids.
func newIDPrefix() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return fmt.Sprintf("%X", b)
}
