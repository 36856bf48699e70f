package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferryhq/ferry/state"
)

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
	eng *engine

	opMu sync.Mutex

	mu      sync.Mutex
	started bool
	running bool
	baseCtx context.Context // parent of task contexts while running
	conns   map[string]*connState
}

// New validates cfg and returns a worker ready to Run.
func New(cfg Config) (*Standalone, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	eng, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	return &Standalone{
		cfg:   cfg,
		log:   eng.log,
		eng:   eng,
		conns: map[string]*connState{},
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
			s.eng.observeGen(st.Generation)
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

// ConnectorMetrics implements ConnectorMetricsSource: every connector that
// ran a task here since it was created.
func (s *Standalone) ConnectorMetrics() []ConnectorMetrics { return s.eng.connectorMetrics() }

var (
	_ Controller             = (*Standalone)(nil)
	_ TaskMetricsSource      = (*Standalone)(nil)
	_ ConnectorMetricsSource = (*Standalone)(nil)
)

// start brings a connector to its target state. Its caller holds opMu and
// has stopped the connector's previous incarnation.
func (s *Standalone) start(def state.Connector) {
	c := &connState{def: def, v: s.cfg.validate(def.Config)}
	s.mu.Lock()
	s.conns[def.Name] = c
	s.mu.Unlock()

	log := s.log.With("connector", def.Name)
	if err := c.v.err(); err != nil {
		s.failConnector(c, "invalid configuration: "+newScrubber(c.v.literalSecrets(def.Config)).scrub(err.Error()))
		return
	}
	if def.Target == state.TargetStopped {
		s.eng.putStatus(def.Name, state.ConnectorTask, state.StateStopped, "", s.eng.nextGen())
		log.Info("connector stopped")
		return
	}
	taskRaws, err := s.eng.plan(c)
	if err != nil {
		s.failConnector(c, err.Error())
		return
	}
	want := state.StateRunning
	if def.Target == state.TargetPaused {
		want = state.StatePaused
	}
	s.eng.putStatus(def.Name, state.ConnectorTask, want, "", s.eng.nextGen())

	slots := make([]*taskSlot, len(taskRaws))
	for i, raw := range taskRaws {
		slots[i] = &taskSlot{conn: def.Name, index: i, count: len(taskRaws), raw: raw}
		slots[i].gen.Store(s.eng.nextGen())
	}
	s.mu.Lock()
	c.tasks = slots
	base := s.baseCtx
	s.mu.Unlock()
	for _, t := range slots {
		if def.Target == state.TargetPaused {
			s.eng.putStatus(def.Name, t.index, state.StatePaused, "", t.gen.Load())
			continue
		}
		s.eng.putStatus(def.Name, t.index, state.StateUnassigned, "", t.gen.Load())
		s.eng.launch(base, c, t)
	}
	log.Info("connector started", "target", def.Target, "tasks", len(slots))
}

func (s *Standalone) failConnector(c *connState, trace string) {
	c.failed = trace
	s.eng.putStatus(c.def.Name, state.ConnectorTask, state.StateFailed, trace, s.eng.nextGen())
	s.log.Error("connector failed", "connector", c.def.Name, "err", trace)
}

// stopTasks soft-stops every task of c at once and waits for them.
func (s *Standalone) stopTasks(c *connState) {
	limit := 10 * time.Second
	if c.v != nil && c.v.cfg != nil {
		limit = c.v.cfg.stopTimeout
	}
	s.eng.stopSlots(c.tasks, limit)
}

// markUnassigned records that c no longer runs here (worker shutdown), as
// Kafka Connect reports tasks of a departed worker.
func (s *Standalone) markUnassigned(c *connState) {
	for _, t := range c.tasks {
		s.eng.putStatus(c.def.Name, t.index, state.StateUnassigned, "", t.gen.Load())
	}
	s.eng.putStatus(c.def.Name, state.ConnectorTask, state.StateUnassigned, "", s.eng.nextGen())
}

// restartSlot stops one task and starts it again with a fresh series of
// restart attempts.
func (s *Standalone) restartSlot(c *connState, t *taskSlot) {
	s.eng.stopSlots([]*taskSlot{t}, c.v.cfg.stopTimeout)
	s.mu.Lock()
	base := s.baseCtx
	s.mu.Unlock()
	s.eng.launch(base, c, t)
}
