package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
)

// ackMetas acknowledges records, frees their budget and tells an Acker
// source which partitions moved. delivered says the sink took them (the
// lag and latency metrics count those; records a transform dropped or
// rejected were not delivered).
func (t *Task) ackMetas(ctx context.Context, metas []recMeta, delivered bool) {
	var moved map[string]api.Position
	var bytes int64
	if t.tracer != nil {
		traceDelivered(metas)
	}
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
