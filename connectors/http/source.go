package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferryhq/ferry/api"
)

// Partition is the one partition of every http source task.
const Partition = "http"

// Source is the http (webhook) source plugin.
var Source = api.SourcePlugin{
	Name:    "http",
	Summary: "Receives CloudEvents and JSON over HTTP, answering each request once its events are durably written.",
	Spec:    spec,
	New:     newSource,
	// Tasks would compete for the same listen address.
	Plan: func(api.Config, int) ([]map[string]string, error) { return []map[string]string{{}}, nil },
}

var spec = api.Spec{
	{Name: "listen", Type: api.TypeString, Required: true, Check: checkListen,
		Description: "host:port to listen on; an empty host binds 127.0.0.1, 0.0.0.0 binds every interface."},
	{Name: "path", Type: api.TypeString, Default: "/", Check: checkPath,
		Description: "The one URL path served; others get 404."},
	{Name: "allowed.methods", Type: api.TypeList, Default: "POST", Check: checkMethods,
		Description: "Accepted HTTP methods; others get 405."},
	{Name: "allowed.cidrs", Type: api.TypeList, Check: checkCIDRs,
		Description: "Client networks (CIDR or address) allowed to send; empty allows any. Others get 403."},
	{Name: "allowed.referers", Type: api.TypeList,
		Description: "Domains whose pages may send (Referer host or a subdomain); empty allows any. Others get 403."},
	{Name: "max.body.bytes", Type: api.TypeInt, Default: "4194304", Check: api.Range(1, 1<<30),
		Description: "Largest accepted request body; larger ones get 413."},
	{Name: "response.timeout", Type: api.TypeDuration, Default: "30s",
		Description: "Longest a request waits for its events to be written before it gets 503 and should be retried."},
	{Name: "queue.size", Type: api.TypeInt, Default: "1024", Check: api.Range(1, 1<<24),
		Description: "Events received but not yet read by the task; beyond it requests get 429."},
	{Name: "batch.size", Type: api.TypeInt, Default: "1024", Check: api.Range(1, 1<<20),
		Description: "Most records returned by one Read."},
}

func checkListen(v string) error {
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		return errors.New("must be host:port, such as 127.0.0.1:8080 or :8080")
	}
	return nil
}

func checkPath(v string) error {
	if !strings.HasPrefix(v, "/") {
		return errors.New("must start with /")
	}
	return nil
}

func checkMethods(v string) error {
	for _, m := range api.NewConfig(map[string]string{"v": v}).List("v") {
		if m != strings.ToUpper(m) || strings.ContainsAny(m, " /") {
			return fmt.Errorf("%q is not an upper-case HTTP method", m)
		}
	}
	return nil
}

func checkCIDRs(v string) error {
	for _, c := range api.NewConfig(map[string]string{"v": v}).List("v") {
		if _, err := parsePrefix(c); err != nil {
			return fmt.Errorf("%q is not a CIDR or IP address", c)
		}
	}
	return nil
}

// waiter is a request waiting for the acknowledgement of its last
// position.
type waiter struct {
	last uint64
	done chan struct{}
}

type source struct {
	connector   string
	idPrefix    string // "<connector>-<task>-"
	evSource    string
	listen      string
	path        string
	methods     map[string]bool
	allow       string // Allow header for 405
	access      access
	maxBody     int64
	respTimeout time.Duration
	queueCap    int
	batch       int
	committed   uint64
	hasCommit   bool
	log         *slog.Logger

	ln        net.Listener
	srv       *nethttp.Server
	serveDone chan struct{}
	closed    chan struct{} // closed by Close: wakes Read and waiting handlers
	handlers  sync.WaitGroup

	mu      sync.Mutex // guards everything below
	stopped bool
	next    uint64
	queue   []api.Record
	waiting []*waiter // ascending by last
	ready   chan struct{}
}

func newSource(tc api.TaskConfig) (api.Source, error) {
	c := tc.Config
	s := &source{
		connector:   tc.Connector,
		idPrefix:    tc.Connector + "-" + strconv.Itoa(tc.Task) + "-",
		evSource:    "/ferry/http/" + tc.Connector,
		listen:      c.String("listen"),
		path:        c.String("path"),
		methods:     map[string]bool{},
		maxBody:     int64(c.Int("max.body.bytes")),
		respTimeout: c.Duration("response.timeout"),
		queueCap:    c.Int("queue.size"),
		batch:       c.Int("batch.size"),
		log:         tc.Logger,
		ready:       make(chan struct{}, 1),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if host, port, err := net.SplitHostPort(s.listen); err == nil && host == "" {
		s.listen = net.JoinHostPort("127.0.0.1", port)
	}
	if s.path == "" {
		s.path = "/"
	}
	for _, m := range c.List("allowed.methods") {
		s.methods[m] = true
	}
	if len(s.methods) == 0 {
		s.methods["POST"] = true
	}
	s.allow = strings.Join(c.List("allowed.methods"), ", ")
	for _, p := range c.List("allowed.cidrs") {
		pfx, err := parsePrefix(p)
		if err != nil {
			return nil, api.Fatal(fmt.Errorf("http source: allowed.cidrs: %q: %w", p, err))
		}
		s.access.cidrs = append(s.access.cidrs, pfx)
	}
	for _, d := range c.List("allowed.referers") {
		s.access.referers = append(s.access.referers, strings.ToLower(strings.TrimSuffix(d, ".")))
	}
	if s.respTimeout <= 0 {
		s.respTimeout = 30 * time.Second
	}
	if pos, ok := tc.Committed[Partition]; ok {
		n, err := strconv.ParseUint(string(pos), 10, 64)
		if err != nil {
			return nil, api.Fatal(fmt.Errorf("%w: committed %q", errBadPosition, pos))
		}
		s.committed, s.hasCommit = n, true
	}
	return s, nil
}

// Addr returns the address the server listens on, once Open succeeded.
func (s *source) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

func (s *source) Open(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.listen)
	if err != nil {
		// The address may be freed by a previous task still stopping.
		return api.Retryable(fmt.Errorf("http source: %w", err))
	}
	s.next = uint64(time.Now().UnixMicro())
	if s.hasCommit && s.committed+1 > s.next {
		s.next = s.committed + 1
	}
	s.ln = ln
	s.closed = make(chan struct{})
	s.serveDone = make(chan struct{})
	s.srv = &nethttp.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(s.serveDone)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			s.log.Error("http source: server stopped", "err", err)
		}
	}()
	s.log.Info("http source listening", "addr", ln.Addr().String(), "path", s.path)
	return nil
}

func (s *source) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	close(s.closed) // waiting handlers answer 503 and return
	if err := s.srv.Shutdown(ctx); err != nil {
		// ctx ended first: cut the remaining connections.
		_ = s.srv.Close()
	}
	<-s.serveDone
	s.handlers.Wait()
	s.srv = nil
	return nil
}

func (s *source) Read(ctx context.Context) ([]api.Record, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.mu.Lock()
		if n := min(len(s.queue), s.batch); n > 0 {
			// Capping the capacity keeps an append by the engine from
			// overwriting records still queued.
			out := s.queue[:n:n]
			s.queue = s.queue[n:]
			if len(s.queue) == 0 {
				s.queue = nil
			}
			s.mu.Unlock()
			return out, nil
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closed:
			return nil, errClosed
		case <-s.ready:
		}
	}
}

// Ack answers every request whose events are all at or before pos.
func (s *source) Ack(_ context.Context, partition string, pos api.Position) error {
	p, err := strconv.ParseUint(string(pos), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q", errBadPosition, pos)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := 0
	for ; i < len(s.waiting) && s.waiting[i].last <= p; i++ {
		close(s.waiting[i].done)
		s.waiting[i] = nil
	}
	s.waiting = s.waiting[i:]
	return nil
}

// enqueue gives events their positions and queues them for Read. It
// returns nil, false when the queue is full and nil, true when stopping.
func (s *source) enqueue(events []api.Event, plain bool, now time.Time) (w *waiter, stopping bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, true
	}
	// A request larger than the whole queue still passes when the queue is
	// empty, so no request size is refused forever.
	if len(s.queue) > 0 && len(s.queue)+len(events) > s.queueCap {
		return nil, false
	}
	for _, ev := range events {
		pos := s.next
		s.next++
		p := strconv.AppendUint(nil, pos, 10)
		if plain {
			ev.ID = s.idPrefix + string(p)
			ev.Source = s.evSource
			ev.Time = now
		}
		s.queue = append(s.queue, api.Record{Event: ev, Partition: Partition, Position: p})
	}
	w = &waiter{last: s.next - 1, done: make(chan struct{})}
	s.waiting = append(s.waiting, w)
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return w, false
}

// ServeHTTP checks a request against the connector's policy, queues its
// events and answers once they are acknowledged.
func (s *source) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		unavailable(w, "the source is stopping")
		return
	}
	// Added under mu before Close sets stopped, so Close's Wait never
	// races an Add.
	s.handlers.Add(1)
	s.mu.Unlock()
	defer s.handlers.Done()

	if err := s.access.allowAddr(r.RemoteAddr); err != nil {
		reply(w, nethttp.StatusForbidden, err.Error())
		return
	}
	if err := s.access.allowReferer(r.Header.Get("Referer")); err != nil {
		reply(w, nethttp.StatusForbidden, err.Error())
		return
	}
	if r.URL.Path != s.path {
		reply(w, nethttp.StatusNotFound, "no endpoint at "+r.URL.Path)
		return
	}
	if !s.methods[r.Method] {
		w.Header().Set("Allow", s.allow)
		reply(w, nethttp.StatusMethodNotAllowed, "method "+r.Method+" is not allowed")
		return
	}
	body, err := io.ReadAll(nethttp.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var tooBig *nethttp.MaxBytesError
		if errors.As(err, &tooBig) {
			reply(w, nethttp.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds %d bytes", s.maxBody))
			return
		}
		reply(w, nethttp.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	events, plain, err := decodeRequest(r.Header, body)
	switch {
	case errors.Is(err, errUnsupportedType):
		reply(w, nethttp.StatusUnsupportedMediaType, err.Error())
		return
	case err != nil:
		reply(w, nethttp.StatusBadRequest, err.Error())
		return
	case len(events) == 0:
		accepted(w, 0)
		return
	}
	wt, stopping := s.enqueue(events, plain, time.Now())
	if wt == nil {
		if stopping {
			unavailable(w, "the source is stopping")
			return
		}
		w.Header().Set("Retry-After", "1")
		reply(w, nethttp.StatusTooManyRequests, "queue full, retry later")
		return
	}
	timer := time.NewTimer(s.respTimeout)
	defer timer.Stop()
	var why string
	select {
	case <-wt.done:
	case <-timer.C:
		// The events may still be delivered: the client's retry makes a
		// duplicate, which at-least-once allows.
		why = "not acknowledged within response.timeout"
	case <-s.closed:
		why = "the source is stopping"
	case <-r.Context().Done():
		return // the client left; the events are delivered anyway
	}
	// select picks at random among ready cases: an ack that came with the
	// timeout or the stop still earns its 200.
	select {
	case <-wt.done:
		accepted(w, len(events))
	default:
		unavailable(w, why)
	}
}

func unavailable(w nethttp.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	reply(w, nethttp.StatusServiceUnavailable, msg)
}

func accepted(w nethttp.ResponseWriter, n int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(nethttp.StatusOK)
	fmt.Fprintf(w, `{"accepted":%d}`+"\n", n)
}

// reply writes a JSON error in the shape of Ferry's REST API errors.
func reply(w nethttp.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}{status, msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
