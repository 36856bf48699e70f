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

	ran      atomic.Bool
	finished atomic.Bool
	metaPool sync.Pool
}

type lagReporter struct{ api.LagReporter }

// recMeta is the engine's bookkeeping for one record in flight. event is
// the record's event time in unix nanos (its CloudEvents time, else when
// it was read), for the lag and latency metrics.
type recMeta struct {
	mark  Mark
	size  int64
	event int64
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

// readLoop reads batches, tracks them, and hands them on (to the chain
// stage, or to the writer when there is no chain) until ctx ends, the
// input ends, or a fatal error. next is closed when the stage it feeds
// has stopped. A chain the reader runs itself uses workCtx, like the
// chain stage: a soft stop must not cut its dead-letter writes short.
func (t *Task) readLoop(ctx, workCtx context.Context, out chan<- *batch, next <-chan struct{}) error {
	for {
		if err := t.waitForBudget(ctx, next); err != nil {
			return nil
		}
		var recs []api.Record
		start := time.Now()
		err := t.retry(ctx, "read", func() error {
			var err error
			recs, err = t.src.Read(ctx) // ErrEndOfInput is not retried
			return err
		})
		t.m.pollNanos.Add(int64(time.Since(start)))
		eof := errors.Is(err, api.ErrEndOfInput)
		if err != nil && !eof {
			if ctx.Err() != nil {
				return nil // soft stop
			}
			return fmt.Errorf("source read: %w", err)
		}
		var chainErr error
		if len(recs) > 0 {
			b := t.track(recs)
			if t.helper != nil && len(out) == cap(out) {
				// The chain stage is behind: run the chain here.
				if b, chainErr = t.transform(workCtx, b, t.helper); b != nil {
					b.chained = true
				}
			}
			if b != nil {
				select {
				case out <- b:
				case <-next:
					return nil
				}
			}
		}
		switch {
		case chainErr != nil:
			return chainErr
		case eof:
			return api.ErrEndOfInput
		}
	}
}

// chainLoop runs the transform chain over every batch from in and hands
// the survivors to the writer, until in closes or a record fails with
// tolerance none (the error is returned).
func (t *Task) chainLoop(ctx context.Context, in <-chan *batch, out chan<- *batch, writerDone <-chan struct{}) error {
	for b := range in {
		if b.chained {
			select {
			case out <- b:
			case <-writerDone:
				return nil
			}
			continue
		}
		kept, err := t.transform(ctx, b, t.cfg.Transforms)
		if kept != nil {
			select {
			case out <- kept:
			case <-writerDone:
				return nil
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// waitForBudget blocks while the in-flight limits are reached.
func (t *Task) waitForBudget(ctx context.Context, writerDone <-chan struct{}) error {
	for {
		t.mu.Lock()
		ok := t.inflightRecs < t.cfg.MaxInFlightRecords && t.inflightBytes < t.cfg.MaxInFlightBytes
		t.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-t.space:
		case <-ctx.Done():
			return ctx.Err()
		case <-writerDone:
			return errors.New("writer stopped")
		}
	}
}

// track enters a batch in the watermark and the in-flight budget.
func (t *Task) track(recs []api.Record) *batch {
	n := len(recs)
	t.m.poll.Add(int64(n))
	now := time.Now().UnixNano()
	t.m.lastRecord.Store(now)
	metas := t.getMetas(n)
	var bytes int64
	t.mu.Lock()
	if t.inflightRecs == 0 {
		t.busySince = now
	}
	for i := range recs {
		r := &recs[i]
		sz := int64(r.Size())
		bytes += sz
		ev := now
		if !r.Event.Time.IsZero() {
			ev = r.Event.Time.UnixNano()
		}
		metas[i] = recMeta{mark: t.wm.Track(r.Partition, r.Position), size: sz, event: ev}
	}
	t.inflightRecs += n
	t.inflightBytes += bytes
	t.mu.Unlock()
	if len(t.cfg.Transforms) == 0 {
		t.m.write.Add(int64(n))
	}
	return &batch{recs: recs, metas: metas, orig: t.originals(recs)}
}

// transform runs the chain over a tracked batch. Filtered and rejected
// records are acknowledged at once. It returns the survivors (nil when
// none) and a fatal error if a record failed with tolerance none;
// survivors before the failure are still returned so their positions can
// be committed.
func (t *Task) transform(ctx context.Context, b *batch, chain []NamedTransform) (*batch, error) {
	c := chainRun{t: t, ctx: ctx, recs: b.recs, metas: b.metas, orig: b.orig, chain: chain, step: -1}
	for c.i < len(c.recs) && c.fatal == nil {
		c.run()
	}
	recs, metas, kept := c.recs, c.metas, c.kept
	clear(recs[kept:])
	if b.orig != nil {
		clear(b.orig[kept:])
		b.orig = b.orig[:kept]
	}
	t.m.write.Add(int64(kept))
	if len(c.done) > 0 {
		t.ackMetas(ctx, c.done, false)
	}
	if kept == 0 {
		t.putMetas(metas)
		return nil, c.fatal
	}
	b.recs, b.metas = recs[:kept], metas[:kept]
	return b, c.fatal
}

// chainQueue is how many batches wait for the chain stage. With the
// reader helping (Config.NewChain) on two cores, generator → filter +
// template → drop, paired rounds of BenchmarkChain: with a queue of 2 the
// chain stage's core idled ~6% of the time and the chain cost +14–23% in
// five sets; 4 cost 4–12 points less in the same sets; 8 did worse than 4
// (docs/benchmarks.md). The in-flight budget, not this, bounds memory.
const chainQueue = 4

// chainRun is one pass of the chain over a batch. A transform's panic
// fails the record it met, like an error; one deferred recover per pass
// catches it, where one per Apply cost a cheap transform about a tenth of
// its time.
type chainRun struct {
	t     *Task
	ctx   context.Context
	recs  []api.Record
	metas []recMeta
	orig  []api.Record // nil unless the task keeps originals
	chain []NamedTransform
	i     int // the record at hand
	step  int // the transform applying to it, or -1 outside Apply
	kept  int // survivors, packed at the front
	done  []recMeta
	fatal error // a failure with tolerance none: records from it on are dropped unacknowledged
}

// run applies the chain to the records from c.i on, until the batch ends,
// a record fails fatally, or a transform panics; after a panic the record
// is settled as failed and run returns, to be called again for the rest.
// A panic outside Apply (a dead-letter sink's, say) is not recovered.
func (c *chainRun) run() {
	defer func() {
		if c.step < 0 {
			return
		}
		p := recover()
		name := c.chain[c.step].Name
		c.step = -1
		c.settle(false, name, api.Fatal(fmt.Errorf("transform panicked: %v", p)))
		c.i++
	}()
	for ; c.i < len(c.recs) && c.fatal == nil; c.i++ {
		r := &c.recs[c.i]
		keep, name := true, ""
		var err error
		for c.step = 0; c.step < len(c.chain); c.step++ {
			tr := &c.chain[c.step]
			if keep, err = tr.Transform.Apply(r); err != nil || !keep {
				name = tr.Name
				break
			}
		}
		c.step = -1
		c.settle(keep, name, err)
	}
}

// settle books record c.i's outcome: a failure goes through reject (the
// dead-letter sink, or a fatal error with tolerance none), a filtered
// record is acknowledged, a survivor is packed.
func (c *chainRun) settle(keep bool, name string, err error) {
	switch {
	case err != nil:
		if rerr := c.t.reject(c.ctx, failure{rec: &c.recs[c.i], orig: c.original(c.i), stage: "transform " + name, code: CodeTransformFailed, err: err}); rerr != nil {
			c.fatal = rerr
			return
		}
		c.done = append(c.done, c.metas[c.i])
	case !keep:
		c.t.m.filtered.Add(1)
		c.done = append(c.done, c.metas[c.i])
	default:
		if c.kept != c.i { // compact in place; skip self-copies (write barriers)
			c.recs[c.kept], c.metas[c.kept] = c.recs[c.i], c.metas[c.i]
			if c.orig != nil {
				c.orig[c.kept] = c.orig[c.i]
			}
		}
		c.kept++
	}
}

// writeLoop writes batches to the sink, flushes Flushers, acknowledges and
// commits, until the reader closes in; then it drains, flushes and commits.
func (t *Task) writeLoop(ctx context.Context, in <-chan *batch) error {
	commitTick := time.NewTicker(t.cfg.CommitInterval)
	defer commitTick.Stop()
	var (
		unflushed      []recMeta // written to a Flusher, not yet flushed
		unflushedBytes int64
		flushTimer     *time.Timer
		flushC         <-chan time.Time
	)
	flush := func() error {
		if len(unflushed) == 0 {
			return nil
		}
		err := t.retry(ctx, "flush", func() error { return t.flusher.Flush(ctx) })
		if err != nil {
			return fmt.Errorf("sink flush: %w", err)
		}
		t.ackMetas(ctx, unflushed, true)
		unflushed, unflushedBytes = unflushed[:0], 0
		return nil
	}
	finish := func(err error) error {
		if err == nil {
			err = flush()
		}
		// After a failed write the sink may hold a position past what was
		// acknowledged (a transaction that committed although its answer
		// was lost): that commit must not hand the sink older positions.
		if cerr := t.commit(err == nil); cerr != nil && err == nil {
			err = cerr
		}
		return err
	}
	// written books a batch the sink took: acknowledged at once, or
	// after a flush, which comes before the unflushed records could
	// exhaust the reader's budget, or soon after the input goes quiet.
	written := func(b *batch, quiet bool) error {
		if t.flusher == nil {
			t.ackMetas(ctx, b.metas, true)
			t.putMetas(b.metas)
			return nil
		}
		unflushed = append(unflushed, b.metas...)
		for _, m := range b.metas {
			unflushedBytes += m.size
		}
		t.putMetas(b.metas)
		if len(unflushed) >= t.cfg.MaxInFlightRecords/2 || unflushedBytes >= t.cfg.MaxInFlightBytes/2 {
			return flush()
		}
		if quiet && flushC == nil {
			if flushTimer == nil {
				flushTimer = time.NewTimer(t.cfg.FlushInterval)
			} else {
				flushTimer.Reset(t.cfg.FlushInterval)
			}
			flushC = flushTimer.C
		}
		return nil
	}
	defer func() {
		if flushTimer != nil {
			flushTimer.Stop()
		}
	}()
	win := t.newWindow()
	defer win.stop()
	for {
		select {
		case b, ok := <-in:
			if !ok {
				if b = win.take(); b != nil {
					if err := t.writeBatch(ctx, b); err != nil {
						return finish(err)
					}
					if err := written(b, false); err != nil {
						return finish(err)
					}
				}
				return finish(nil)
			}
			if b = win.add(b, t.budgetFull); b == nil {
				break // waits in the window
			}
			if err := t.writeBatch(ctx, b); err != nil {
				return finish(err)
			}
			if err := written(b, len(in) == 0); err != nil {
				return finish(err)
			}
		case <-win.timeout():
			if b := win.take(); b != nil {
				if err := t.writeBatch(ctx, b); err != nil {
					return finish(err)
				}
				if err := written(b, len(in) == 0); err != nil {
					return finish(err)
				}
			}
		case <-flushC:
			flushC = nil
			if err := flush(); err != nil {
				return finish(err)
			}
		case <-commitTick.C:
			if err := flush(); err != nil {
				return finish(err)
			}
			if err := t.commit(true); err != nil {
				return err
			}
		}
	}
}

// writeBatch writes b in chunks of at most BatchSize, retrying transient
// failures and handing rejected records to the error policy.
func (t *Task) writeBatch(ctx context.Context, b *batch) error {
	for lo := 0; lo < len(b.recs); lo += t.cfg.BatchSize {
		hi := min(lo+t.cfg.BatchSize, len(b.recs))
		chunk := b.recs[lo:hi]
		var rejected api.RecordErrors
		calls := 0
		start := time.Now()
		err := t.retry(ctx, "write", func() error {
			calls++
			err := t.cfg.Sink.Write(ctx, chunk)
			var re *api.RecordErrors
			if errors.As(err, &re) {
				rejected = *re
				return nil
			}
			return err
		})
		t.m.putNanos.Add(int64(time.Since(start)))
		t.m.batches.Add(1)
		t.m.send.Add(int64(len(chunk)))
		var exhausted *RetryError
		if errors.As(err, &exhausted) && t.deadLettersExhausted() {
			// EventBridge's way: records whose delivery ran out of retries
			// go to the dead-letter sink, and the task moves on.
			for i := range chunk {
				f := failure{rec: &chunk[i], orig: b.original(lo + i), stage: "sink", code: CodeRetriesExhausted,
					err: exhausted.Err, retries: exhausted.Retries, condition: exhausted.Condition}
				if err := t.reject(ctx, f); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("sink write: %w", err)
		}
		for _, re := range rejected {
			if re.Index < 0 || re.Index >= len(chunk) {
				return fmt.Errorf("sink write: sink reported a failure for record %d of a batch of %d", re.Index, len(chunk))
			}
			f := failure{rec: &chunk[re.Index], orig: b.original(lo + re.Index), stage: "sink", code: CodeSinkRejected, err: re.Err, retries: calls - 1}
			if err := t.reject(ctx, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// ackMetas acknowledges records, frees their budget and tells an Acker
// source which partitions moved. delivered says the sink took them (the
// lag and latency metrics count those; records a transform dropped or
// rejected were not delivered).
func (t *Task) ackMetas(ctx context.Context, metas []recMeta, delivered bool) {
	var moved map[string]api.Position
	var bytes int64
	var now int64
	if delivered && len(metas) > 0 {
		now = time.Now().UnixNano()
		if t.cfg.Latency != nil {
			t.cfg.Latency.record(now, metas)
		}
	}
	t.mu.Lock()
	if now != 0 {
		t.ackedEvent, t.ackedAt = metas[len(metas)-1].event, now
	}
	for _, m := range metas {
		if t.wm.Ack(m.mark) && t.acker != nil {
			if moved == nil {
				moved = make(map[string]api.Position, 1)
			}
			moved[m.mark.Partition()] = nil
		}
		bytes += m.size
	}
	for p := range moved {
		moved[p] = t.wm.Safe(p)
	}
	t.inflightRecs -= len(metas)
	t.inflightBytes -= bytes
	t.mu.Unlock()
	t.m.ack.Add(int64(len(metas)))
	select {
	case t.space <- struct{}{}:
	default:
	}
	for p, pos := range moved {
		if err := t.acker.Ack(ctx, p, pos); err != nil {
			t.log.Warn("source ack failed", "partition", p, "err", err)
		}
	}
}

// commit stores the positions that became safe since the last commit. A
// transient failure is logged and retried at the next commit; fencing is
// fatal: a newer generation owns the task.
//
// A source that is an api.CommitListener is told the positions stored.
//
// With save, the committed positions also go to a sink that is an
// api.PositionSaver, so its stored positions keep up with records it never
// saw. Only the writer's commits after successful writes save: a hard
// stop's may run while a write is stuck, and after a failed write the sink
// may already hold a later position.
func (t *Task) commit(save bool) error {
	t.commitMu.Lock()
	defer t.commitMu.Unlock()
	t.mu.Lock()
	c := t.wm.Uncommitted()
	t.mu.Unlock()
	if c.Offsets == nil {
		return nil
	}
	if err := t.storeOffsets(c.Offsets); err != nil {
		if errors.Is(err, state.ErrFenced) {
			return fmt.Errorf("offset commit: %w", err)
		}
		t.log.Warn("offset commit failed; will retry", "err", err)
		return nil
	}
	t.mu.Lock()
	t.wm.Committed(c)
	t.mu.Unlock()
	if save {
		t.savePositions(c.Offsets)
	}
	if t.listener != nil {
		t.listener.Committed(c.Offsets)
	}
	return nil
}

// savePositions offers committed positions to a sink that saves them
// (api.PositionSaver). Positions it fails to save are offered again with
// the next commit's.
func (t *Task) savePositions(committed map[string]api.Position) {
	ps, ok := t.cfg.Sink.(api.PositionSaver)
	if !ok {
		return
	}
	if t.unsaved == nil {
		t.unsaved = make(map[string]api.Position, len(committed))
	}
	maps.Copy(t.unsaved, committed)
	ctx, cancel := context.WithTimeout(context.Background(), t.cfg.StopTimeout)
	defer cancel()
	if err := ps.SavePositions(ctx, t.unsaved); err != nil {
		t.log.Warn("sink could not save committed positions; will retry at the next commit", "err", err)
		return
	}
	clear(t.unsaved)
}

// storeOffsets hands offsets to the Committer and counts the outcome.
func (t *Task) storeOffsets(offsets map[string]api.Position) error {
	if err := t.cfg.Committer.Commit(offsets); err != nil {
		t.m.commitFails.Add(1)
		return err
	}
	t.m.commits.Add(1)
	t.m.lastCommit.Store(time.Now().UnixNano())
	return nil
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
