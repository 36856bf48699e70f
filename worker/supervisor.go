package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/state"
)

// connState is the live part of a connector on this worker: the definition
// it runs, its validated config and its task slots. Replaced, never
// mutated, except for the slots' own atomics.
type connState struct {
	def   state.Connector
	v     *validation
	tasks []*taskSlot // empty when STOPPED or FAILED
	// failed is the connector-level failure (invalid config, planning);
	// empty when healthy.
	failed string
}

func (c *connState) tolerance() runtime.Tolerance {
	if c.v != nil && c.v.cfg != nil {
		return c.v.cfg.tolerance
	}
	return ""
}

// taskSlot is one task of a connector and the supervisor goroutine that
// runs, and after failures restarts, it.
type taskSlot struct {
	conn  string
	index int
	count int               // tasks of the connector
	raw   map[string]string // the task's full config, references unresolved

	cancel context.CancelFunc
	done   chan struct{} // closed when the supervisor goroutine returned

	// fixedGen, when non-zero, is the generation of every run of this
	// slot: in cluster mode the assignment generation the task was started
	// under, so a task moved elsewhere at a higher generation fences this
	// one. Zero (standalone) takes a fresh clock generation per run.
	fixedGen int64

	gen    atomic.Int64               // generation of the current or last run
	runner atomic.Pointer[taskRunner] // the running task, for metrics
}

// safePlan calls a source's Plan, turning a panic into an error: a plugin
// that cannot plan fails its connector, never the worker.
func safePlan(p api.SourcePlugin, c api.Config, maxTasks int) (out []map[string]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("source %q panicked while planning tasks: %v", p.Name, r)
		}
	}()
	return p.Plan(c, maxTasks)
}

// stableRun is how long a run must last before its failure starts a new
// series of restart attempts (or Max, if longer).
const stableRun = time.Minute

// backoff is Initial·2^attempt capped at Max, plus up to 20% jitter so
// tasks that failed together do not retry in lockstep.
func backoff(p RestartPolicy, attempt int) time.Duration {
	d := p.Initial
	for range attempt {
		if d >= p.Max/2 {
			d = p.Max
			break
		}
		d *= 2
	}
	d = min(d, p.Max)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// buildChain constructs the transform steps in order, each guarded by its
// predicate. When a constructor fails, the transforms built so far are
// closed and the error names the step.
func buildChain(reg Registry, steps []transformStep) ([]runtime.NamedTransform, error) {
	var chain []runtime.NamedTransform
	for _, st := range steps {
		tr, err := st.plugin.New(st.cfg)
		if err != nil {
			closeTransforms(chain)
			return nil, fmt.Errorf("transform %q (%s): %w", st.alias, st.plugin.Name, err)
		}
		if pr := st.predicate; pr != nil {
			p, err := pr.plugin.New(pr.cfg)
			if err != nil {
				closeTransforms(append(chain, runtime.NamedTransform{Transform: tr}))
				return nil, fmt.Errorf("predicate %q (%s): %w", pr.alias, pr.plugin.Name, err)
			}
			tr = reg.PredicateWrap(tr, p, st.negate)
		}
		chain = append(chain, runtime.NamedTransform{Name: st.alias, Transform: tr})
	}
	return chain, nil
}

// closeTransforms closes every transform of chain that holds resources.
func closeTransforms(chain []runtime.NamedTransform) {
	for _, nt := range chain {
		if cl, ok := nt.Transform.(api.Closer); ok {
			_ = cl.Close()
		}
	}
}

// plan computes the per-task configs: the source's Plan when it has one
// (its entries override source.<field> settings), else tasks.max copies.
// Plan sees the source config with secrets resolved; the task configs keep
// the references of the connector config wherever Plan did not override.
func (e *engine) plan(c *connState) ([]map[string]string, error) {
	cc := c.v.cfg
	if cc.source.Plan == nil {
		out := make([]map[string]string, cc.tasksMax)
		for i := range out {
			out[i] = maps.Clone(c.def.Config)
		}
		return out, nil
	}
	resolved, secrets, err := e.newResolver().resolveConfig(c.def.Config, c.v.isSecret)
	if err != nil {
		return nil, fmt.Errorf("plan tasks: %w", err)
	}
	sc := newScrubber(secrets)
	rv := e.cfg.validate(resolved)
	if err := rv.err(); err != nil {
		return nil, fmt.Errorf("plan tasks: after resolving secrets: %s", sc.scrub(err.Error()))
	}
	overrides, err := safePlan(cc.source, rv.cfg.sourceCfg, cc.tasksMax)
	if err != nil {
		return nil, fmt.Errorf("plan tasks: %s", sc.scrub(err.Error()))
	}
	if len(overrides) > cc.tasksMax {
		return nil, fmt.Errorf("plan tasks: source %q planned %d tasks, more than %s=%d", cc.source.Name, len(overrides), keyTasksMax, cc.tasksMax)
	}
	out := make([]map[string]string, len(overrides))
	for i, o := range overrides {
		out[i] = maps.Clone(c.def.Config)
		for k, v := range o {
			out[i][prefixSource+k] = v
		}
	}
	return out, nil
}

// launch starts the supervisor goroutine of t under parent.
func (e *engine) launch(parent context.Context, c *connState, t *taskSlot) {
	ctx, cancel := context.WithCancel(parent)
	done := make(chan struct{})
	t.cancel, t.done = cancel, done
	lat := e.latency(t.conn)
	go func() {
		defer close(done) // this run's channel, even if t was relaunched
		e.supervise(ctx, c, t, lat)
	}()
}

// stopSlots cancels the given tasks and waits for their supervisors. The
// runtime bounds each soft stop by the task's stop timeout; the extra
// margin only guards against a plugin constructor that ignores its ctx,
// whose goroutine is then abandoned (its late writes carry an old
// generation, which the store ignores).
func (e *engine) stopSlots(slots []*taskSlot, stopTimeout time.Duration) {
	for _, t := range slots {
		if t.cancel != nil {
			t.cancel()
		}
	}
	limit := stopTimeout + 5*time.Second
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for _, t := range slots {
		if t.done == nil {
			continue
		}
		select {
		case <-t.done:
		case <-timer.C:
			e.log.Error("task did not stop in time; abandoning it", "connector", t.conn, "task", t.index, "timeout", limit)
			return
		}
	}
}

// supervise runs t until ctx ends, restarting it after failures as the
// restart policy says. It writes the task's status except when stopped
// through ctx: then the stopper writes it. Every run records its records'
// latency in lat, the connector's histogram.
func (e *engine) supervise(ctx context.Context, c *connState, t *taskSlot, lat *runtime.Latency) {
	p := e.cfg.Restart
	log := e.log.With("connector", t.conn, "task", t.index)
	attempt := 0
	for {
		gen := t.fixedGen
		if gen == 0 {
			gen = e.gen.next()
		}
		t.gen.Store(gen)
		began := time.Now()
		scrub, err := e.runOnce(ctx, c, t, gen, lat)
		t.runner.Store(nil)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			// Run returns nil before ctx ends only when the source ended
			// and everything was committed.
			e.putStatus(t.conn, t.index, state.StateFinished, "", gen)
			log.Info("task finished: source reached its end")
			return
		}
		trace := scrub.scrub(err.Error())
		if time.Since(began) > max(p.Max, stableRun) {
			attempt = 0 // it ran well for a while: a new failure series
		}
		if p.Disabled || api.IsFatal(err) || (p.MaxAttempts > 0 && attempt >= p.MaxAttempts) {
			e.putStatus(t.conn, t.index, state.StateFailed, trace, gen)
			log.Error("task failed", "err", trace, "restarts", attempt)
			return
		}
		delay := backoff(p, attempt)
		attempt++
		e.putStatus(t.conn, t.index, state.StateRestarting, trace, gen)
		log.Warn("task failed; restarting", "err", trace, "in", delay, "attempt", attempt)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// runOnce builds the plugins of one task run (secrets resolved) and runs
// it. The scrubber it returns hides the secrets of this run in the error.
func (e *engine) runOnce(ctx context.Context, c *connState, t *taskSlot, gen int64, lat *runtime.Latency) (*scrubber, error) {
	resolved, secrets, err := e.newResolver().resolveConfig(t.raw, c.v.isSecret)
	sc := newScrubber(secrets)
	if err != nil {
		return sc, api.Fatal(fmt.Errorf("task start: %w", err))
	}
	// The runtime adds the connector and task to its own lines; the
	// plugins get a logger that already names them.
	taskLog := slog.New(sc.handler(e.cfg.Logger.Handler())).With("worker", e.cfg.WorkerID)
	logger := taskLog.With("connector", t.conn, "task", t.index)
	rv := e.cfg.validate(resolved)
	if err := rv.err(); err != nil {
		return sc, api.Fatal(fmt.Errorf("task start: invalid configuration after resolving secrets: %w", err))
	}
	cc := rv.cfg
	committed, err := e.cfg.Store.Offsets(ctx, t.conn)
	if err != nil {
		return sc, fmt.Errorf("task start: read committed offsets: %w", err)
	}
	// A plugin's warning shows in the status line of its running task; a
	// warning racing the task's stop must not mark a stopped task running.
	warn := func(msg string) {
		if ctx.Err() == nil {
			e.putStatus(t.conn, t.index, state.StateRunning, "warning: "+msg, gen)
		}
	}
	tc := func(cfg api.Config, committed map[string]api.Position) api.TaskConfig {
		return api.TaskConfig{Connector: t.conn, Task: t.index, Tasks: t.count, Config: cfg, Committed: committed,
			Logger: logger, OnWarning: warn}
	}
	// The runtime builds the source after opening the sink, whose stored
	// positions (api.PositionStore) may be ahead of the offset store'e.
	newSource := func(merged map[string]api.Position) (api.Source, error) {
		src, err := cc.source.New(tc(cc.sourceCfg, merged))
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", cc.source.Name, err)
		}
		return src, nil
	}
	chain, err := buildChain(e.cfg.Registry, cc.transforms)
	if err != nil {
		return sc, fmt.Errorf("task start: %w", err)
	}
	// The chain is closed here when a later constructor fails; once
	// runtime.New succeeded the runtime closes every plugin.
	closeChain := func() { closeTransforms(chain) }
	snk, err := cc.sink.New(tc(cc.sinkCfg, committed))
	if err != nil {
		closeChain()
		return sc, fmt.Errorf("task start: sink %q: %w", cc.sink.Name, err)
	}
	var dlq api.Sink
	if cc.dlq != nil {
		if dlq, err = cc.dlq.New(tc(cc.dlqCfg, committed)); err != nil {
			closeChain()
			return sc, fmt.Errorf("task start: dead-letter sink %q: %w", cc.dlq.Name, err)
		}
	}

	// While an operation fails and is retried, the status says so; the
	// watch's last write lands before runOnce returns, so it never
	// overwrites what the supervisor records after the run.
	health := newHealthWatch(func(trace string, since time.Time) {
		if ctx.Err() == nil {
			e.putTaskStatus(state.Status{Connector: t.conn, Task: t.index, State: state.StateRunning, Trace: trace, RetryingSince: since, Generation: gen})
		}
	}, sc.scrub)
	defer health.stop()

	store := e.cfg.Store
	commit := runtime.CommitFunc(func(offs map[string]api.Position) error {
		// Commits run during a soft stop too, after ctx ended.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cc.stopTimeout+5*time.Second)
		defer cancel()
		err := store.CommitOffsets(cctx, t.conn, gen, offs)
		if errors.Is(err, state.ErrFenced) {
			return api.Fatal(err) // a newer run owns the offsets: stop
		}
		return err
	})
	runner, err := e.newTask(runtime.Config{
		Connector:          t.conn,
		Task:               t.index,
		NewSource:          newSource,
		Committed:          committed,
		Transforms:         chain,
		NewChain:           func() ([]runtime.NamedTransform, error) { return buildChain(e.cfg.Registry, cc.transforms) },
		Sink:               snk,
		DeadLetter:         dlq,
		DeadLetterFormat:   cc.dlqFormat,
		ScrubError:         sc.scrub,
		Tolerance:          cc.tolerance,
		LogErrors:          cc.logErrors,
		Committer:          commit,
		BatchSize:          cc.batchSize,
		BatchMaxRecords:    cc.batchRecords,
		BatchMaxWait:       cc.batchWait,
		MaxInFlightRecords: cc.bufferRecords,
		MaxInFlightBytes:   cc.bufferBytes,
		CommitInterval:     cc.commitInterval,
		Retry:              cc.retry,
		OnHealth:           health.report,
		StopTimeout:        cc.stopTimeout,
		Latency:            lat,
		Tracer:             e.tracer,
		TraceSampleRate:    cc.traceRate,
		Logger:             taskLog,
	})
	if err != nil {
		closeChain()
		return sc, api.Fatal(fmt.Errorf("task start: %w", err))
	}
	t.runner.Store(&runner)
	e.putStatus(t.conn, t.index, state.StateRunning, "", gen)
	return sc, runner.Run(ctx)
}

// putTaskStatus records a task's status with its retry health.
func (e *engine) putTaskStatus(st state.Status) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st.WorkerID, st.Updated = e.cfg.WorkerID, time.Now()
	if err := e.cfg.Store.PutStatus(ctx, st); err != nil {
		e.log.Warn("cannot record status", "connector", st.Connector, "task", st.Task, "state", st.State, "err", err)
	}
}

// putStatus records a status; a failure is logged, not returned: status
// is an observation, and the task's work must not stop for it.
func (e *engine) putStatus(conn string, task int, st state.State, trace string, gen int64) {
	e.putTaskStatus(state.Status{Connector: conn, Task: task, State: st, Trace: trace, Generation: gen})
}
