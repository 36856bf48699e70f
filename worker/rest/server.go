package rest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/ui"
)

// Config configures the REST server. The zero values of optional
// fields are replaced by the defaults documented on each field; New
// never modifies the caller's Config.
type Config struct {
	// Addr is the listen address; default 127.0.0.1:8083 (Kafka Connect's
	// port). Port 0 picks a free port; Addr() then reports it.
	Addr       string
	Controller worker.Controller // required
	// Version is reported by GET /.
	Version string
	// Commit is reported by GET /; default the VCS revision stamped into
	// the binary, if any.
	Commit string
	// ClusterID is reported by GET / as ferry_cluster_id and, for tools
	// written for Kafka Connect, as kafka_cluster_id.
	ClusterID string
	// Logger receives request logs at debug level and handler failures.
	// Default slog.Default().
	Logger *slog.Logger
	// Gatherer serves GET /metrics. Default: NewMetricsRegistry over the
	// Controller when it implements worker.TaskMetricsSource, else NewMetricsRegistry(nil)
	// (Go runtime and process metrics only), with a StateCollector over the
	// Controller (connector and task states, build info).
	Gatherer prometheus.Gatherer
	// MaxBodyBytes bounds request bodies (413 beyond); default 1 MiB.
	MaxBodyBytes int64
	// ShutdownTimeout bounds the graceful shutdown when Run's ctx ends;
	// requests still running after it are cut. Default 5s.
	ShutdownTimeout time.Duration
	// RequestTimeout bounds the context each Controller call gets; a call
	// that runs out answers 500 "Request timed out", as Kafka Connect does
	// after its 90s. Default 90s.
	RequestTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included, so a
	// client that trickles its body (slowloris) is cut. Default 1m.
	ReadTimeout time.Duration
	// AllowedHosts are host names (besides IP literals, localhost, the
	// machine's host name and the host of Addr) that requests may name in
	// their Host header; "*" allows any. Others are refused (DNS
	// rebinding).
	AllowedHosts []string
	// AllowedOrigins are the origins (scheme://host[:port]) from which
	// browsers may call the API cross-origin; "*" allows any. Requests
	// from other origins are refused.
	AllowedOrigins []string
	// Auth says who may call the API (docs/security.md).
	Auth AuthConfig
	// TLS, when set, serves HTTPS.
	TLS *TLSConfig
	// Loggers, when set, are the log levels /admin/loggers reads and
	// changes: the ones the process's logger filters by. Without it those
	// routes answer 404.
	Loggers *worker.LogLevels
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8083"
	}
	if c.Commit == "" {
		c.Commit = buildCommit()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Gatherer == nil {
		src, _ := c.Controller.(worker.TaskMetricsSource)
		reg := NewMetricsRegistry(src)
		reg.MustRegister(NewStateCollector(c.Controller, c.Version, c.Commit))
		c.Gatherer = reg
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 5 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 90 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = time.Minute
	}
	return c
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	if c.Controller == nil {
		return errors.New("worker: Config.Controller is required")
	}
	if c.MaxBodyBytes < 0 {
		return errors.New("worker: Config.MaxBodyBytes must not be negative")
	}
	if c.ShutdownTimeout < 0 {
		return errors.New("worker: Config.ShutdownTimeout must not be negative")
	}
	if c.ReadTimeout < 0 {
		return errors.New("worker: Config.ReadTimeout must not be negative")
	}
	if c.RequestTimeout < 0 {
		return errors.New("worker: Config.RequestTimeout must not be negative")
	}
	return nil
}

func buildCommit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return ""
}

// Server serves the Kafka Connect compatible REST API over a Controller.
type Server struct {
	cfg   Config
	log   *slog.Logger
	guard guardConfig
	auth  *authenticator
	tls   *tls.Config // nil: plain HTTP
	// warnings are shown by GET / and were logged at start.
	warnings []string
	engine   *gin.Engine
	handler  http.Handler

	mu    sync.Mutex
	addr  string // bound address once Run listens
	ran   bool
	ready chan struct{}
}

var ginModeOnce sync.Once

// New validates cfg and builds the routes. It does not listen: Run
// does.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	// Release mode silences gin's route dump and debug warnings; the mode
	// is process-wide, so set it once.
	ginModeOnce.Do(func() { gin.SetMode(gin.ReleaseMode) })

	s := &Server{cfg: cfg, log: cfg.Logger, addr: cfg.Addr, ready: make(chan struct{}),
		guard: newGuardConfig(cfg.Addr, cfg.AllowedHosts, cfg.AllowedOrigins)}
	reloadErr := func(err error) {
		s.log.Error("REST: a changed file was not loaded; keeping the previous version", "err", err)
	}
	mode, warnings, err := resolveAuthMode(cfg.Addr, cfg.Auth.Mode)
	if err != nil {
		return nil, err
	}
	authCfg := cfg.Auth
	authCfg.Mode = mode
	if mode == AuthMTLS && (cfg.TLS == nil || cfg.TLS.ClientCAFile == "") {
		return nil, errors.New("worker: mtls authentication needs TLS with a client CA file")
	}
	if s.auth, err = newAuthenticator(authCfg, reloadErr); err != nil {
		return nil, err
	}
	if cfg.TLS != nil {
		if s.tls, err = serverTLS(*cfg.TLS, reloadErr); err != nil {
			return nil, err
		}
	}
	s.warnings = warnings
	for _, w := range warnings {
		s.log.Warn("SECURITY: " + w)
	}
	e := gin.New()
	// Connector names may hold escaped characters (%2F among them); route
	// on the raw path so an escaped slash stays inside its segment.
	e.UseRawPath = true
	e.UnescapePathValues = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	if err := e.SetTrustedProxies(nil); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	e.Use(s.logRequests, s.recoverPanics, s.guardBrowser, s.authenticate, s.limitRequest)
	e.NoRoute(func(c *gin.Context) {
		writeErrorStatus(c, http.StatusNotFound, "HTTP 404 Not Found: no route for "+c.Request.Method+" "+c.Request.URL.Path)
	})
	e.NoMethod(func(c *gin.Context) {
		writeErrorStatus(c, http.StatusMethodNotAllowed, "HTTP 405 Method Not Allowed: "+c.Request.Method+" is not supported on "+c.Request.URL.Path)
	})
	s.routes(e)
	s.engine = e
	s.handler = trimTrailingSlash(e)
	return s, nil
}

// routes registers every endpoint. docs/openapi.yaml lists the same set;
// TestOpenAPIMatchesRoutes keeps them in step.
func (s *Server) routes(e *gin.Engine) {
	s.clusterRoutes(e)
	e.GET("/", s.serverInfo)
	e.GET("/health", s.health)
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{
		ErrorLog:      slogPromLogger{s.log},
		ErrorHandling: promhttp.ContinueOnError,
	})))

	e.GET("/connectors", s.listConnectors)
	e.POST("/connectors", s.createConnector)
	e.GET("/connectors/:name", s.getConnector)
	e.POST("/connectors/:name", s.createConnectorFlat)
	e.DELETE("/connectors/:name", s.deleteConnector)
	e.GET("/connectors/:name/config", s.getConnectorConfig)
	e.PUT("/connectors/:name/config", s.putConnectorConfig)
	e.PATCH("/connectors/:name/config", s.patchConnectorConfig)
	e.GET("/connectors/:name/status", s.connectorStatus)
	e.GET("/connectors/:name/tasks", s.taskConfigs)
	e.GET("/connectors/:name/tasks/:task/status", s.taskStatus)
	e.POST("/connectors/:name/tasks/:task/restart", s.restartTask)
	e.POST("/connectors/:name/restart", s.restartConnector)
	e.PUT("/connectors/:name/pause", s.pauseConnector)
	e.PUT("/connectors/:name/resume", s.resumeConnector)
	e.PUT("/connectors/:name/stop", s.stopConnector)
	e.POST("/connectors/:name/stop", s.stopConnector)
	e.GET("/connectors/:name/offsets", s.getOffsets)
	e.PATCH("/connectors/:name/offsets", s.alterOffsets)
	e.DELETE("/connectors/:name/offsets", s.resetOffsets)
	e.GET("/connectors/:name/offsets/mapping", s.positionMaps)
	e.POST("/connectors/:name/offsets/mapping/translate", s.translateOffsets)
	e.GET("/connectors/:name/topics", s.connectorTopics)
	e.PUT("/connectors/:name/topics/reset", s.resetConnectorTopics)
	e.GET("/connectors/:name/traces", s.traces)
	e.GET("/connectors/:name/tap", s.tap)

	e.GET("/admin/loggers", s.listLoggers)
	e.GET("/admin/loggers/:logger", s.getLogger)
	e.PUT("/admin/loggers/:logger", s.setLogger)

	e.GET("/connector-plugins", s.listPlugins)
	e.GET("/connector-plugins/:plugin/config", s.pluginConfig)
	e.PUT("/connector-plugins/:plugin/config/validate", s.validateConfig)

	e.POST("/transforms/preview", s.previewTransforms)

	// The dashboard's static files (worker/ui); its data comes from the
	// routes above.
	e.GET(ui.Prefix, gin.WrapH(ui.Handler()))
	e.GET(ui.Prefix+"/*file", gin.WrapH(ui.Handler()))
}

// Handler returns the server's HTTP handler, for tests and for embedding
// under another server.
func (s *Server) Handler() http.Handler { return s.handler }

// Addr returns the address Run listens on once it is listening (the real
// port when the configured port was 0), and the configured address before.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Ready is closed once Run listens, so Addr reports the bound address. It
// is never closed when Run fails to listen; wait on Run's result too.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Run listens on the configured address and serves until ctx ends, then
// shuts down gracefully within ShutdownTimeout. It returns nil after a
// shutdown caused by ctx and the listen or serve error otherwise. Run may
// be called once.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("worker: Server.Run called twice")
	}
	s.ran = true
	s.mu.Unlock()

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("worker: REST listen: %w", err)
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.mu.Unlock()
	close(s.ready)

	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.ReadTimeout,
		MaxHeaderBytes:    64 << 10,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.log.Info("REST API listening", "addr", ln.Addr().String())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("worker: REST serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests outlived the grace period: cut them.
		s.log.Warn("REST shutdown timed out; closing connections", "timeout", s.cfg.ShutdownTimeout)
		_ = srv.Close()
	}
	<-served // Serve returns ErrServerClosed once Shutdown or Close began
	return nil
}

// trimTrailingSlash routes "/connectors/" like "/connectors", as Kafka
// Connect (JAX-RS) does, instead of answering with a redirect.
func trimTrailingSlash(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
			r2 := r.Clone(r.Context())
			r2.URL.Path = strings.TrimRight(p, "/")
			if r2.URL.Path == "" {
				r2.URL.Path = "/"
			}
			if r2.URL.RawPath != "" {
				r2.URL.RawPath = strings.TrimRight(r2.URL.RawPath, "/")
			}
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// logRequests logs each request at debug level: method, path, status and
// duration. Bodies are never logged: they carry connector configs, and
// configs carry secrets.
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	if !s.log.Enabled(c.Request.Context(), slog.LevelDebug) {
		return
	}
	s.log.LogAttrs(c.Request.Context(), slog.LevelDebug, "REST request",
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("duration", time.Since(start)),
		slog.String("remote", c.ClientIP()),
	)
}

// recoverPanics turns a handler panic into a 500 JSON error, so one bad
// request cannot take the worker down.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r) // the handler asked net/http to drop the connection
			}
			s.log.Error("REST handler panicked", "method", c.Request.Method, "path", c.Request.URL.Path,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			if !c.Writer.Written() {
				writeErrorStatus(c, http.StatusInternalServerError, "internal server error")
			}
			c.Abort()
		}
	}()
	c.Next()
}

// limitRequest caps the request body at MaxBodyBytes (readBody turns the
// overflow into 413) and its context at RequestTimeout.
func (s *Server) limitRequest(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes)
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// slogPromLogger adapts slog to promhttp's error logger.
type slogPromLogger struct{ log *slog.Logger }

func (l slogPromLogger) Println(v ...any) { l.log.Warn("metrics: " + fmt.Sprint(v...)) }

// serverInfo answers GET / as Kafka Connect's RootResource, with Ferry's
// cluster id and worker id added.
func (s *Server) serverInfo(c *gin.Context) {
	writeJSON(c, http.StatusOK, serverInfo{
		Version:        s.cfg.Version,
		Commit:         s.cfg.Commit,
		KafkaClusterID: s.cfg.ClusterID,
		FerryClusterID: s.cfg.ClusterID,
		WorkerID:       s.cfg.Controller.WorkerID(),
		Warnings:       s.warnings,
	})
}

type serverInfo struct {
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	KafkaClusterID string `json:"kafka_cluster_id"`
	FerryClusterID string `json:"ferry_cluster_id"`
	WorkerID       string `json:"worker_id"`
	// Warnings tell an operator what is unsafe about this worker's set-up.
	Warnings []string `json:"warnings,omitempty"`
}

// healthTimeout bounds the probe of GET /health.
const healthTimeout = 10 * time.Second

// health answers GET /health as Kafka Connect's HealthCheckResource: the
// worker is healthy when its controller answers a cheap read in time.
func (s *Server) health(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), healthTimeout)
	defer cancel()
	if _, err := s.cfg.Controller.Connectors(ctx); err != nil {
		writeJSON(c, http.StatusInternalServerError, healthInfo{
			Status:  "unhealthy",
			Message: "Worker was unable to handle this request and may be unable to handle other requests: " + err.Error(),
		})
		return
	}
	writeJSON(c, http.StatusOK, healthInfo{
		Status:  "healthy",
		Message: "Worker has completed startup and is ready to handle requests.",
	})
}

type healthInfo struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}
