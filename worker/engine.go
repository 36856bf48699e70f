package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/trace"
	"github.com/ferryhq/ferry/state"
)

// Config configures a worker: the engine both herders run on (New takes
// it; DistributedConfig embeds it). Zero values of optional fields take
// the defaults documented on them; constructors never modify the caller's
// Config.
type Config struct {
	// WorkerID names this worker in status records; the caller passes the
	// host:port of its REST listener. Required.
	WorkerID string
	// Store keeps connectors, offsets and status. Required; the worker does
	// not close it.
	Store state.Store
	// Registry lists the plugins connectors may use.
	Registry Registry
	// Restart is the automatic restart policy for failed tasks.
	Restart RestartPolicy
	// CommitInterval is the default of offset.flush.interval.ms;
	// DefaultCommitInterval when zero.
	CommitInterval time.Duration
	// Version is reported for every plugin; "dev" when empty.
	Version string
	// Logger receives the worker's and, scrubbed of secrets, the plugins'
	// log lines. Default slog.Default().
	Logger *slog.Logger
	// StartStopped loads every stored connector STOPPED, whatever its
	// stored target state (which is kept): the operator's way in to a
	// worker that one connector's tasks take down at every start. The
	// REST API then resumes, reconfigures or deletes connectors as usual.
	StartStopped bool
	// SecretSources is the allow-list of what secret references may read
	// (docs/security.md); empty, they resolve only in secret fields.
	SecretSources SecretSources
}

// DefaultCommitInterval is how often a task commits its acknowledged
// positions unless its connector says otherwise. It bounds what a worker
// killed without warning replays: about half of it per task on average.
// Measured: 5 s replayed ~2.1 s of records per task after a SIGKILL, and
// committing every 500 ms (or 200 ms) to a bbolt store cost no
// throughput measurable on generator → drop (docs/benchmarks.md).
const DefaultCommitInterval = 500 * time.Millisecond

// RestartPolicy says how the worker restarts a task that failed.
//
// A task whose error is marked api.Fatal is never restarted: it goes
// FAILED at once. Any other failure (retries exhausted, an unmarked error)
// restarts the task after Initial, doubling up to Max, with up to 20%
// jitter; the task is RESTARTING meanwhile, its trace the last error.
// After MaxAttempts restarts in a row it goes FAILED. A run that lasted
// longer than a minute (or Max, if longer) before failing starts a new
// series. A manual restart always starts a new series.
type RestartPolicy struct {
	// Disabled turns automatic restarts off: a failed task goes FAILED.
	Disabled bool
	// Initial is the first delay; default 1s.
	Initial time.Duration
	// Max caps one delay; default 60s.
	Max time.Duration
	// MaxAttempts bounds restarts in a row; default 10, negative means
	// unlimited.
	MaxAttempts int
}

// withDefaults returns a copy of c with defaults applied.
func (c Config) withDefaults() Config {
	if c.Restart.Initial <= 0 {
		c.Restart.Initial = time.Second
	}
	if c.Restart.Max <= 0 {
		c.Restart.Max = 60 * time.Second
	}
	if c.Restart.MaxAttempts == 0 {
		c.Restart.MaxAttempts = 10
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = DefaultCommitInterval
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every contradiction in c.
func (c Config) Validate() error {
	var errs []error
	if c.WorkerID == "" {
		errs = append(errs, errors.New("worker: WorkerID is required"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("worker: Store is required"))
	}
	if c.Restart.Initial < 0 || c.Restart.Max < 0 {
		errs = append(errs, errors.New("worker: restart delays must not be negative"))
	}
	if c.Restart.Max > 0 && c.Restart.Initial > c.Restart.Max {
		errs = append(errs, errors.New("worker: Restart.Initial exceeds Restart.Max"))
	}
	if c.CommitInterval < 0 {
		errs = append(errs, errors.New("worker: CommitInterval must not be negative"))
	}
	if err := c.Registry.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, p := range c.SecretSources.Paths {
		if !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("worker: secret source path %q must be absolute", p))
		}
	}
	for _, p := range c.SecretSources.EnvPrefixes {
		if p == "" {
			errs = append(errs, errors.New("worker: an empty secret source environment prefix would allow every variable"))
		}
	}
	return errors.Join(errs...)
}

// engine is what both herders share: it validates connector configs
// against the plugins, plans a connector's tasks, launches, supervises and
// stops task slots, records status with generations, and makes the store
// writes of the Controller's operations. It holds no connectors of its
// own: the standalone herder keeps the connectors it runs, the cluster
// herder the tasks assigned to it. Herders call only its methods, never
// its fields, and serialise the store writes themselves (each herder's
// opMu).
//
// Its methods may run concurrently; supervisor goroutines (launch) touch
// only their slot's atomics and the Store.
type engine struct {
	cfg Config
	log *slog.Logger
	gen generationClock

	// newTask builds a runtime task; tests of the supervisor swap it.
	newTask func(runtime.Config) (taskRunner, error)
	// newResolver builds the secret resolver of one task start.
	newResolver func() *secretResolver

	// latMu guards lat: each connector's end-to-end latency histogram,
	// shared by its task slots on this worker (see latency).
	latMu sync.Mutex
	lat   map[string]*runtime.Latency

	// tracer keeps the event traces of every task of this worker
	// (TraceSource).
	tracer *trace.Recorder
}

func newEngine(cfg Config) (*engine, error) {
	tracer, err := trace.NewRecorder(trace.Limits{})
	if err != nil {
		return nil, err
	}
	return &engine{
		cfg:         cfg,
		log:         cfg.Logger.With("worker", cfg.WorkerID),
		newTask:     func(c runtime.Config) (taskRunner, error) { return runtime.New(c) },
		newResolver: func() *secretResolver { return newSecretResolver(cfg.SecretSources) },
		tracer:      tracer,
	}, nil
}

// taskRunner is what the supervisor needs of a runtime.Task.
type taskRunner interface {
	// Run returns nil before ctx ends only when the source ended and
	// everything was committed.
	Run(ctx context.Context) error
}

// metricsReader is the optional snapshot capability of a task.
type metricsReader interface {
	Metrics() runtime.Snapshot
}

// latency returns conn's latency histogram, creating it on first use.
// Slots take it at launch, so a histogram a herder forgets (forgetLatency)
// is never handed to a later run.
func (e *engine) latency(conn string) *runtime.Latency {
	e.latMu.Lock()
	defer e.latMu.Unlock()
	l, ok := e.lat[conn]
	if !ok {
		if e.lat == nil {
			e.lat = map[string]*runtime.Latency{}
		}
		l = &runtime.Latency{}
		e.lat[conn] = l
	}
	return l
}

// keepLatencies forgets the histograms of connectors keep rejects: the
// herder no longer runs or holds them here.
func (e *engine) keepLatencies(keep func(conn string) bool) {
	e.latMu.Lock()
	defer e.latMu.Unlock()
	maps.DeleteFunc(e.lat, func(conn string, _ *runtime.Latency) bool { return !keep(conn) })
}

// connectorMetrics snapshots every connector's histogram, sorted by name.
func (e *engine) connectorMetrics() []ConnectorMetrics {
	e.latMu.Lock()
	out := make([]ConnectorMetrics, 0, len(e.lat))
	for conn, l := range e.lat {
		out = append(out, ConnectorMetrics{Connector: conn, Latency: l.Snapshot()})
	}
	e.latMu.Unlock()
	slices.SortFunc(out, func(a, b ConnectorMetrics) int { return strings.Compare(a.Connector, b.Connector) })
	return out
}

// nextGen returns a new task generation (see generationClock).
func (e *engine) nextGen() int64 { return e.gen.next() }

// observeGen makes every later generation newer than gen.
func (e *engine) observeGen(gen int64) { e.gen.observe(gen) }

// connector reads a definition, mapping the store's ErrNotFound to ours.
func (e *engine) connector(ctx context.Context, name string) (state.Connector, error) {
	def, err := e.cfg.Store.Connector(ctx, name)
	if errors.Is(err, state.ErrNotFound) {
		return def, fmt.Errorf("connector %q: %w", name, ErrNotFound)
	}
	return def, err
}

// generationClock hands out task generations: strictly increasing within
// the process and, because they are the wall clock in microseconds (or one
// more than the last value handed out or observed in the store), also
// across restarts of the worker. So a task of this run always commits
// with a newer generation than any task of an earlier run, also after a
// connector was deleted and re-created (its offsets, kept by the store,
// carry an older generation), and the store's fencing never mistakes it
// for a zombie.
type generationClock struct {
	mu   sync.Mutex
	last int64
}

func (g *generationClock) next() int64 {
	now := time.Now().UnixMicro()
	g.mu.Lock()
	defer g.mu.Unlock()
	if now <= g.last {
		now = g.last + 1
	}
	g.last = now
	return now
}

func (g *generationClock) observe(gen int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gen > g.last {
		g.last = gen
	}
}

// validateConfig is the Controller's Validate. When config names neither a source nor
// a sink, plugin fills the slot of its kind, as Kafka Connect takes
// connector.class from the path.
func (e *engine) validateConfig(plugin string, config map[string]string) (ConfigInfos, error) {
	config = maps.Clone(config)
	if config == nil {
		config = map[string]string{}
	}
	name := config[keySource]
	if plugin != "" {
		_, isSource := e.cfg.Registry.Source(plugin)
		_, isSink := e.cfg.Registry.Sink(plugin)
		switch {
		case !isSource && !isSink:
			return ConfigInfos{}, fmt.Errorf("connector plugin %q: %w", plugin, ErrNotFound)
		case config[keySource] == plugin || config[keySink] == plugin:
		case config[keySource] == "" && isSource:
			config[keySource] = plugin
		case config[keySink] == "" && isSink:
			config[keySink] = plugin
		default:
			return ConfigInfos{}, fmt.Errorf("%w: plugin %q is neither the config's source (%q) nor its sink (%q)",
				ErrBadRequest, plugin, config[keySource], config[keySink])
		}
		name = plugin
	}
	return e.cfg.validate(config).configInfos(name), nil
}

// connectors lists every stored connector, sorted.
func (e *engine) connectors(ctx context.Context) ([]string, error) {
	defs, err := e.cfg.Store.Connectors(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(defs))
	for i, d := range defs {
		out[i] = d.Name
	}
	return out, nil
}

// createConnector validates and stores a new connector in its initial
// target state (RUNNING when empty); ErrExists if the name is taken. The
// caller serialises writes.
func (e *engine) createConnector(ctx context.Context, name string, config map[string]string, initial state.TargetState) (state.Connector, error) {
	if initial == "" {
		initial = state.TargetRunning
	}
	if err := checkTarget(initial); err != nil {
		return state.Connector{}, err
	}
	config, err := withName(name, config)
	if err != nil {
		return state.Connector{}, err
	}
	if err := e.cfg.validate(config).err(); err != nil {
		return state.Connector{}, err
	}
	if _, err := e.cfg.Store.Connector(ctx, name); err == nil {
		return state.Connector{}, fmt.Errorf("connector %q: %w", name, ErrExists)
	} else if !errors.Is(err, state.ErrNotFound) {
		return state.Connector{}, err
	}
	def, err := e.cfg.Store.PutConnector(ctx, state.Connector{Name: name, Config: config, Target: initial})
	if err != nil {
		return state.Connector{}, err
	}
	e.log.Info("connector created", "connector", name, "target", initial)
	return def, nil
}

// putConnectorConfig validates config and stores it as name's config,
// creating the connector (RUNNING) when absent; changed is false when the
// stored config was already config. The caller serialises writes.
func (e *engine) putConnectorConfig(ctx context.Context, name string, config map[string]string) (def state.Connector, created, changed bool, err error) {
	config, err = withName(name, config)
	if err != nil {
		return state.Connector{}, false, false, err
	}
	if err := e.cfg.validate(config).err(); err != nil {
		return state.Connector{}, false, false, err
	}
	old, err := e.cfg.Store.Connector(ctx, name)
	created = errors.Is(err, state.ErrNotFound)
	if err != nil && !created {
		return state.Connector{}, false, false, err
	}
	if !created && maps.Equal(old.Config, config) {
		return old, false, false, nil
	}
	target := old.Target
	if created {
		target = state.TargetRunning
	}
	def, err = e.cfg.Store.PutConnector(ctx, state.Connector{Name: name, Config: config, Target: target, Created: old.Created})
	if err != nil {
		return state.Connector{}, false, false, err
	}
	e.log.Info("connector config stored", "connector", name, "created", created)
	return def, created, true, nil
}

// patchConnectorConfig merges patch into name's config (a nil value
// deletes the key) and stores the result as putConnectorConfig does.
func (e *engine) patchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (state.Connector, bool, error) {
	def, err := e.connector(ctx, name)
	if err != nil {
		return state.Connector{}, false, err
	}
	config := maps.Clone(def.Config)
	for k, v := range patch {
		if v == nil {
			delete(config, k)
		} else {
			config[k] = *v
		}
	}
	def, _, changed, err := e.putConnectorConfig(ctx, name, config)
	return def, changed, err
}

// deleteConnector deletes name's definition and status (offsets are
// kept, as the store documents). The caller serialises writes.
func (e *engine) deleteConnector(ctx context.Context, name string) error {
	if err := e.cfg.Store.DeleteConnector(ctx, name); err != nil {
		if errors.Is(err, state.ErrNotFound) {
			return fmt.Errorf("connector %q: %w", name, ErrNotFound)
		}
		return err
	}
	e.log.Info("connector deleted", "connector", name)
	return nil
}

// setTargetState stores name's target state; changed is false when it
// already had it. The caller serialises writes.
func (e *engine) setTargetState(ctx context.Context, name string, target state.TargetState) (state.Connector, bool, error) {
	if err := checkTarget(target); err != nil {
		return state.Connector{}, false, err
	}
	def, err := e.connector(ctx, name)
	if err != nil {
		return state.Connector{}, false, err
	}
	if def.Target == target {
		return def, false, nil
	}
	def.Target = target
	if def, err = e.cfg.Store.PutConnector(ctx, def); err != nil {
		return state.Connector{}, false, err
	}
	e.log.Info("connector target state changed", "connector", name, "target", target)
	return def, true, nil
}

// plugins is the Controller's Plugins.
func (e *engine) plugins() []PluginInfo { return e.cfg.Registry.plugins(e.cfg.Version) }

// pluginConfig is the Controller's PluginConfig: the plugin's fields
// relative to its prefix, grouped by kind (a name shared by a source and
// a sink lists both).
func (e *engine) pluginConfig(plugin string) ([]ConfigKeyInfo, error) {
	return e.cfg.Registry.pluginConfig(plugin)
}

// previewTransforms is the Controller's PreviewTransforms.
func (e *engine) previewTransforms(ctx context.Context, config map[string]string, events []api.Event) ([]PreviewResult, error) {
	return previewTransforms(ctx, e.cfg.Registry, config, events)
}
