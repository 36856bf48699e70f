package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ferryhq/ferry/api"
)

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
				f := failure{rec: &chunk[i], orig: b.original(lo + i), meta: &b.metas[lo+i], stage: "sink", code: CodeRetriesExhausted,
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
			f := failure{rec: &chunk[re.Index], orig: b.original(lo + re.Index), meta: &b.metas[lo+re.Index], stage: "sink", code: CodeSinkRejected, err: re.Err, retries: calls - 1}
			if err := t.reject(ctx, f); err != nil {
				return err
			}
		}
		if t.tracer != nil {
			traceWritten(b.metas[lo:hi], calls-1)
		}
	}
	return nil
}
