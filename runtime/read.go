package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ferryhq/ferry/api"
)

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
	now := time.Now()
	t.m.lastRecord.Store(now.UnixNano())
	metas := t.getMetas(n)
	var bytes int64
	t.mu.Lock()
	nowNanos := now.UnixNano()
	if t.inflightRecs == 0 {
		t.busySince = nowNanos
	}
	for i := range recs {
		r := &recs[i]
		sz := int64(r.Size())
		bytes += sz
		ev := nowNanos
		if !r.Event.Time.IsZero() {
			ev = r.Event.Time.UnixNano()
		}
		metas[i] = recMeta{mark: t.wm.Track(r.Partition, r.Position), size: sz, event: ev}
	}
	t.inflightRecs += n
	t.inflightBytes += bytes
	t.mu.Unlock()
	if t.tracer != nil {
		t.startTraces(recs, metas, now)
	}
	if len(t.cfg.Transforms) == 0 {
		t.m.write.Add(int64(n))
	}
	return &batch{recs: recs, metas: metas, orig: t.originals(recs)}
}
