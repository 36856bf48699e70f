package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/trace"
	"github.com/ferryhq/ferry/state"
)

// Config configures a standalone worker. Zero values of optional fields
// take the defaults documented on them; New never modifies the caller's
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

// Standalone is a single worker that keeps everything in its Store. It
// implements Controller.
//
// Model: the Store holds the desired state (each connector's config and
// target state); the worker reconciles its running tasks with it. Every
// Controller write persists first and then, while Run is active, applies
// the change. Writes before Run only persist (Run loads them); writes
// after Run returned only persist.
//
// Locking: opMu serialises every change (Controller writes, Run's load and
// shutdown) and is held while tasks stop, so a write can wait for a task's
// soft stop. mu guards conns and running and is taken after opMu, never
// the other way; reads (status, info, metrics) take only mu. Supervisor
// goroutines take neither: they touch their slot's atomics and the Store.
type Standalone struct {
	cfg Config
	log *slog.Logger
	gen generationClock

	// newTask builds a runtime task; tests of the supervisor swap it.
	newTask func(runtime.Config) (taskRunner, error)
	// newResolver builds the secret resolver of one task start.
	newResolver func() *secretResolver
	// tracer keeps the traces of every task of this worker (TraceSource).
	tracer *trace.Recorder

	opMu sync.Mutex

	mu      sync.Mutex
	started bool
	running bool
	baseCtx context.Context // parent of task contexts while running
	conns   map[string]*connState
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

// New validates cfg and returns a worker ready to Run.
func New(cfg Config) (*Standalone, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	tracer, err := trace.NewRecorder(trace.Limits{})
	if err != nil {
		return nil, err
	}
	return &Standalone{
		tracer:      tracer,
		cfg:         cfg,
		log:         cfg.Logger.With("worker", cfg.WorkerID),
		newTask:     func(c runtime.Config) (taskRunner, error) { return runtime.New(c) },
		newResolver: func() *secretResolver { return newSecretResolver(cfg.SecretSources) },
		conns:       map[string]*connState{},
	}, nil
}

// WorkerID implements Controller.
func (s *Standalone) WorkerID() string { return s.cfg.WorkerID }

// Run loads every connector from the store, starts it in its target state
// and blocks until ctx ends. Then it soft-stops every task at once (each
// bounded by its connector's task.shutdown.graceful.timeout.ms), marks
// them UNASSIGNED and returns nil. Run may be called once.
func (s *Standalone) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("worker: Run called twice")
	}
	s.started = true
	s.mu.Unlock()

	if err := s.load(ctx); err != nil {
		return err
	}
	s.log.Info("worker started")
	<-ctx.Done()

	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	s.running = false
	conns := s.conns
	s.conns = map[string]*connState{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			s.stopTasks(c)
			s.markUnassigned(c)
		})
	}
	wg.Wait()
	s.log.Info("worker stopped")
	return nil
}

// load starts every stored connector. Generations start above every one
// found in the store, so tasks of this run are never fenced by statuses
// and offsets of an earlier run.
func (s *Standalone) load(ctx context.Context) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	// A stop requested while loading is handled after it, like any other.
	ctx = context.WithoutCancel(ctx)
	defs, err := s.cfg.Store.Connectors(ctx)
	if err != nil {
		return fmt.Errorf("worker: load connectors: %w", err)
	}
	for _, d := range defs {
		sts, err := s.cfg.Store.Statuses(ctx, d.Name)
		if err != nil {
			return fmt.Errorf("worker: load status of %s: %w", d.Name, err)
		}
		for _, st := range sts {
			s.gen.observe(st.Generation)
		}
	}
	s.mu.Lock()
	s.running = true
	s.baseCtx = context.WithoutCancel(ctx)
	s.mu.Unlock()
	if s.cfg.StartStopped && len(defs) > 0 {
		s.log.Warn("starting every connector STOPPED (StartStopped); resume them over the REST API", "connectors", len(defs))
	}
	for _, d := range defs {
		if s.cfg.StartStopped {
			d.Target = state.TargetStopped
		}
		s.start(d)
	}
	return nil
}

// tasksLag is the per-partition lag of each running task whose source
// reports it (api.LagReporter), by task index.
func tasksLag(slots []*taskSlot) map[int]map[string]int64 {
	var out map[int]map[string]int64
	for _, t := range slots {
		if lag := slotLag(t); lag != nil {
			if out == nil {
				out = map[int]map[string]int64{}
			}
			out[t.index] = lag
		}
	}
	return out
}

// slotLag is one task slot's lag, nil when it runs no task or its source
// reports none.
func slotLag(t *taskSlot) map[string]int64 {
	if t == nil {
		return nil
	}
	r := t.runner.Load()
	if r == nil {
		return nil
	}
	if m, ok := (*r).(metricsReader); ok {
		return m.Metrics().Lag
	}
	return nil
}

// TaskMetrics lists the tasks this worker runs now with their counters. It
// implements TaskMetricsSource and never blocks on a task.
func (s *Standalone) TaskMetrics() []TaskMetrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TaskMetrics
	for _, c := range s.conns {
		for _, t := range c.tasks {
			r := t.runner.Load()
			if r == nil {
				continue
			}
			m, ok := (*r).(metricsReader)
			if !ok {
				continue
			}
			out = append(out, TaskMetrics{Connector: c.def.Name, Task: t.index, Tolerance: c.tolerance(), Snapshot: m.Metrics()})
		}
	}
	slices.SortFunc(out, func(a, b TaskMetrics) int {
		return cmp.Or(strings.Compare(a.Connector, b.Connector), cmp.Compare(a.Task, b.Task))
	})
	return out
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

var (
	_ Controller        = (*Standalone)(nil)
	_ TaskMetricsSource = (*Standalone)(nil)
)
