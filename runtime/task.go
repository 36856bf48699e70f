package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime/trace"
	"github.com/ferryhq/ferry/state"
)

// Task runs one source → transforms → sink pipeline. See the package
// documentation for its goroutines and stop levels.
type Task struct {
	cfg Config
	log *slog.Logger
	// src is Config.Source, or the source NewSource built during open;
	// acker is src when it is an api.Acker. Both are set before the
	// reader and writer start.
	src      api.Source
	acker    api.Acker
	listener api.CommitListener
	flusher  api.Flusher
	// lagger is src when it is an api.LagReporter; Metrics reads it from
	// any goroutine, so it is published atomically.
	lagger atomic.Pointer[lagReporter]
	m      counters
	clock  clock // the time retries wait on

	// mu guards the watermark and the in-flight budget. It is never held
	// while calling a plugin or the committer.
	mu            sync.Mutex
	wm            *Watermark
	inflightRecs  int
	inflightBytes int64
	space         chan struct{} // signalled (non-blocking) when budget frees
	// The lag bookkeeping (Snapshot.LagTime), unix nanos: the event time
	// of the last record the sink acknowledged and when, and when the
	// in-flight count last rose from zero.
	ackedEvent, ackedAt, busySince int64

	// commitMu serialises commits (the writer's and a hard stop's).
	commitMu sync.Mutex
	// unsaved holds committed positions an api.PositionSaver sink has not
	// saved yet; only the writer's commits use it, under commitMu.
	unsaved map[string]api.Position

	// helper is the reader's instance of the chain (Config.NewChain),
	// built in Run; nil without one.
	helper []NamedTransform
	// dlqMu serialises dead-letter writes: the reader and the chain stage
	// may both reject records.
	dlqMu sync.Mutex

	// tracer is the task's handle on Config.Tracer; nil without one.
	tracer *trace.Task

	ran      atomic.Bool
	finished atomic.Bool
	metaPool sync.Pool
}

type lagReporter struct{ api.LagReporter }

// recMeta is the engine's bookkeeping for one record in flight. event is
// the record's event time in unix nanos (its CloudEvents time, else when
// it was read), for the lag and latency metrics. read (Unix nanoseconds)
// and tr are set only when the task traces: tr is the record's trace when
// it is sampled or tapped, else nil until it fails.
type recMeta struct {
	mark  Mark
	size  int64
	event int64
	read  int64
	tr    *trace.Active
}

// batch is what the reader hands the writer: transformed survivors and
// their bookkeeping, index-aligned. chained marks a batch the reader has
// already run the chain over (see Config.NewChain). orig, when the task
// keeps originals (see keepOriginals), holds each record as the source
// read it, for the dead-letter sink.
type batch struct {
	recs    []api.Record
	metas   []recMeta
	orig    []api.Record
	chained bool
}

type counters struct {
	poll, write, filtered, send, ack, errs, dlq, retries, batches, commits, commitFails atomic.Int64
	lastCommit, lastRecord, putNanos, pollNanos                                         atomic.Int64
}

// New validates cfg and returns a task ready to Run.
func New(cfg Config) (*Task, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	t := &Task{
		cfg:   cfg,
		log:   cfg.Logger.With("connector", cfg.Connector, "task", cfg.Task),
		wm:    NewWatermark(),
		space: make(chan struct{}, 1),
		clock: realClock,
	}
	if cfg.Source != nil {
		t.setSource(cfg.Source)
	}
	t.flusher, _ = cfg.Sink.(api.Flusher)
	if cfg.Tracer != nil {
		t.tracer = cfg.Tracer.Task(cfg.Connector, cfg.Task, cfg.TraceSampleRate)
	}
	return t, nil
}

// Finished reports whether the source reached its end and every record
// was written and committed.
func (t *Task) Finished() bool { return t.finished.Load() }

// Metrics returns a snapshot of the task's counters. It is safe to call at
// any time from any goroutine.
func (t *Task) Metrics() Snapshot {
	t.mu.Lock()
	recs, bytes := t.inflightRecs, t.inflightBytes
	lag := lagTime(time.Now().UnixNano(), t.ackedEvent, t.ackedAt, t.busySince, recs)
	t.mu.Unlock()
	s := Snapshot{
		SourceRecordPollTotal:  t.m.poll.Load(),
		SourceRecordWriteTotal: t.m.write.Load(),
		RecordFilteredTotal:    t.m.filtered.Load(),
		SinkRecordSendTotal:    t.m.send.Load(),
		SinkRecordAckTotal:     t.m.ack.Load(),
		RecordErrorTotal:       t.m.errs.Load(),
		DeadLetterTotal:        t.m.dlq.Load(),
		RetryTotal:             t.m.retries.Load(),
		BatchTotal:             t.m.batches.Load(),
		OffsetCommitTotal:      t.m.commits.Load(),
		OffsetCommitFailures:   t.m.commitFails.Load(),
		InFlightRecords:        int64(recs),
		InFlightBytes:          bytes,
		PutBatchNanosTotal:     t.m.putNanos.Load(),
		PollBatchNanosTotal:    t.m.pollNanos.Load(),
		LagTime:                lag,
	}
	if n := t.m.lastCommit.Load(); n != 0 {
		s.LastCommit = time.Unix(0, n)
	}
	if l := t.lagger.Load(); l != nil {
		s.Lag = l.Lag()
	}
	if n := t.m.lastRecord.Load(); n != 0 {
		s.LastRecord = time.Unix(0, n)
	}
	return s
}

// PositionMap returns the sink's map from source positions to where the
// records landed when the sink keeps one (api.PositionMapper), else nil.
// It is safe to call at any time from any goroutine.
func (t *Task) PositionMap() []api.PartitionMap {
	if m, ok := t.cfg.Sink.(api.PositionMapper); ok {
		return m.PositionMap()
	}
	return nil
}

// Run opens the plugins and moves records until ctx ends (soft stop), the
// source reports api.ErrEndOfInput (Run returns nil after committing
// everything; Finished then reports true), or a fatal error, which Run
// returns. Run may be called once.
func (t *Task) Run(ctx context.Context) error {
	if !t.ran.CompareAndSwap(false, true) {
		return errors.New("runtime: Task.Run called twice")
	}
	// Plugin calls that must finish during a soft stop (writes, flushes,
	// commits, closes) run under workCtx, which only a hard stop cancels.
	workCtx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()

	opened, err := t.open(ctx)
	if err == nil && t.cfg.NewChain != nil && len(t.cfg.Transforms) > 0 {
		if t.helper, err = t.cfg.NewChain(); err != nil {
			err = fmt.Errorf("build the reader's chain: %w", err)
		}
	}
	if err != nil {
		t.closePlugins(workCtx, opened)
		return err
	}

	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	toWrite := make(chan *batch, 2)
	writerDone := make(chan struct{})
	readerDone := make(chan struct{})
	var readErr, chainErr, writeErr error
	// With a chain, the transforms run in a stage of their own between
	// reader and writer, so a source's work and the chain's use two cores.
	// Its queue holds chainQueue batches: a batch the reader ran the chain
	// over costs the stage nothing, so the stage needs that much work in
	// hand not to run dry (and idle a core) while the reader helps.
	toChain, chainDone := toWrite, writerDone
	if len(t.cfg.Transforms) > 0 {
		toChain, chainDone = make(chan *batch, chainQueue), make(chan struct{})
		go func() {
			defer close(chainDone)
			defer close(toWrite)
			chainErr = t.chainLoop(workCtx, toChain, toWrite, writerDone)
			if chainErr != nil {
				stopReading()
			}
		}()
	}
	go func() {
		defer close(readerDone)
		defer close(toChain)
		readErr = t.readLoop(readCtx, workCtx, toChain, chainDone)
	}()
	go func() {
		defer close(writerDone)
		writeErr = t.writeLoop(workCtx, toWrite)
		if writeErr != nil {
			stopReading()
		}
	}()

	// Wait for the pipeline to drain; once a stop is requested, give it
	// StopTimeout before abandoning it.
	var deadline <-chan time.Time
	stopRequested := ctx.Done()
	for done := false; !done; {
		select {
		case <-writerDone:
			done = true
		case <-stopRequested:
			stopRequested = nil
			timer := time.NewTimer(t.cfg.StopTimeout)
			defer timer.Stop()
			deadline = timer.C
		case <-deadline:
			hardStop()
			t.log.Error("soft stop timed out; abandoning the task", "timeout", t.cfg.StopTimeout)
			// Keep what is already safe: commit outside the stuck writer.
			if err := t.commit(false); err != nil {
				t.log.Warn("final commit after hard stop failed", "err", err)
			}
			return ErrStopTimeout
		}
	}
	// The writer is done; the reader ends once it sees the cancellation
	// (or is already done). A source stuck in Read past the deadline is
	// abandoned like a stuck sink.
	stopReading()
	select {
	case <-readerDone:
	case <-time.After(t.cfg.StopTimeout):
		hardStop()
		t.log.Error("source did not return from Read after cancellation; abandoning it")
		return ErrStopTimeout
	}
	closeErr := t.closePlugins(workCtx, opened)

	switch {
	case writeErr != nil:
		return writeErr
	case chainErr != nil:
		return chainErr
	case readErr != nil && !errors.Is(readErr, api.ErrEndOfInput):
		return readErr
	case closeErr != nil:
		return closeErr
	case errors.Is(readErr, api.ErrEndOfInput):
		t.finished.Store(true)
	}
	return nil
}

// openedPlugins records which plugins need closing.
type openedPlugins struct{ source, sink, dlq bool }

// open opens the sink first: a sink that stores positions must answer
// before the source is built (see buildSource).
func (t *Task) open(ctx context.Context) (openedPlugins, error) {
	var o openedPlugins
	if err := t.retry(ctx, "open sink", func() error { return t.cfg.Sink.Open(ctx) }); err != nil {
		return o, fmt.Errorf("open sink: %w", err)
	}
	o.sink = true
	if t.cfg.NewSource != nil {
		src, err := t.buildSource(ctx)
		if err != nil {
			return o, err
		}
		t.setSource(src)
	}
	if err := t.retry(ctx, "open source", func() error { return t.src.Open(ctx) }); err != nil {
		return o, fmt.Errorf("open source: %w", err)
	}
	o.source = true
	if t.cfg.DeadLetter != nil {
		if err := t.retry(ctx, "open dead-letter sink", func() error { return t.cfg.DeadLetter.Open(ctx) }); err != nil {
			return o, fmt.Errorf("open dead-letter sink: %w", err)
		}
		o.dlq = true
	}
	return o, nil
}

func (t *Task) setSource(src api.Source) {
	t.src = src
	t.acker, _ = src.(api.Acker)
	t.listener, _ = src.(api.CommitListener)
	if l, ok := src.(api.LagReporter); ok {
		t.lagger.Store(&lagReporter{l})
	}
}

// buildSource calls NewSource with the positions to resume from: the
// offset store's, overridden by those of a sink that stores positions with
// its writes. Partitions the sink moved are committed, so the offset store
// reports what the source resumes from.
func (t *Task) buildSource(ctx context.Context) (api.Source, error) {
	committed := t.cfg.Committed
	if ps, ok := t.cfg.Sink.(api.PositionStore); ok {
		var stored map[string]api.Position
		err := t.retry(ctx, "read sink positions", func() error {
			var err error
			stored, err = ps.Positions(ctx)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("read sink positions: %w", err)
		}
		var moved map[string]api.Position
		committed, moved = mergePositions(t.cfg.Committed, stored)
		if len(moved) > 0 {
			t.log.Info("source resumes from positions stored by the sink", "partitions", slices.Sorted(maps.Keys(moved)))
			if err := t.storeOffsets(moved); errors.Is(err, state.ErrFenced) {
				return nil, fmt.Errorf("offset commit: %w", err)
			} else if err != nil {
				t.log.Warn("cannot commit the sink's positions; the offset store lags until the partitions move", "err", err)
			}
		}
	}
	src, err := t.cfg.NewSource(committed)
	if err != nil {
		return nil, fmt.Errorf("build source: %w", err)
	}
	return src, nil
}

// mergePositions overlays a sink's stored positions on the offset store's
// (api.PositionStore: the sink's win) and returns the result and the
// partitions whose position the sink changed. Neither input is modified.
func mergePositions(committed, stored map[string]api.Position) (merged, moved map[string]api.Position) {
	merged = maps.Clone(committed)
	for p, pos := range stored {
		if old, ok := committed[p]; ok && bytes.Equal(old, pos) {
			continue
		}
		if merged == nil {
			merged = make(map[string]api.Position, len(stored))
		}
		if moved == nil {
			moved = make(map[string]api.Position, len(stored))
		}
		merged[p], moved[p] = pos, pos
	}
	return merged, moved
}

func (t *Task) closePlugins(ctx context.Context, o openedPlugins) error {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.StopTimeout)
	defer cancel()
	var errs []error
	if o.source {
		if err := t.src.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close source: %w", err))
		}
	}
	if o.sink {
		if err := t.cfg.Sink.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close sink: %w", err))
		}
	}
	if o.dlq {
		if err := t.cfg.DeadLetter.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close dead-letter sink: %w", err))
		}
	}
	for _, tr := range slices.Concat(t.cfg.Transforms, t.helper) {
		if c, ok := tr.Transform.(api.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close transform %q: %w", tr.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (t *Task) getMetas(n int) []recMeta {
	if p, ok := t.metaPool.Get().(*[]recMeta); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]recMeta, n)
}

func (t *Task) putMetas(m []recMeta) {
	m = m[:0]
	t.metaPool.Put(&m)
}
