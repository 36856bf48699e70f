package kit

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ferryhq/ferry/api"
)

// PartitionByKey splits items into at most n parts by the hash key
// returns: the items of one key land in one part, in the order given, so
// parts can be written at once without reordering a key. Empty parts are
// dropped.
func PartitionByKey[T any](items []T, n int, key func(*T) uint64) [][]T {
	if n <= 1 || len(items) < 2 {
		if len(items) == 0 {
			return nil
		}
		return [][]T{items}
	}
	parts := make([][]T, n)
	for i := range items {
		p := key(&items[i]) % uint64(n)
		parts[p] = append(parts[p], items[i])
	}
	return slices.DeleteFunc(parts, func(p []T) bool { return len(p) == 0 })
}

// RunParallel calls write for every group, on at most parallelism
// goroutines at once, and returns when every call has returned (it starts
// no goroutine that outlives it, so a sink's Write stays synchronous).
// A group is written by one call, so what write does within a group stays
// in order.
//
// Each call returns the records of its group that it rejected (their
// indexes in the sink's batch) and the error that stopped the group, if
// any. RunParallel merges them: the rejected records sorted by index, and
// the errors joined (the join is api.IsFatal when any error is). When ctx
// ended, the error is ctx's.
func RunParallel[G any](ctx context.Context, groups []G, parallelism int, write func(context.Context, G) (api.RecordErrors, error)) (api.RecordErrors, error) {
	var (
		mu   sync.Mutex
		bad  api.RecordErrors
		errs []error
		wg   sync.WaitGroup
		next atomic.Int64
	)
	run := func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(groups) {
				return
			}
			rejected, err := write(ctx, groups[i])
			mu.Lock()
			bad = append(bad, rejected...)
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
		}
	}
	workers := max(1, min(parallelism, len(groups)))
	for range workers - 1 {
		wg.Go(run)
	}
	run() // the caller's goroutine is one of the workers
	wg.Wait()
	slices.SortFunc(bad, func(a, b api.RecordError) int { return cmp.Compare(a.Index, b.Index) })
	if errs != nil {
		if ctx.Err() != nil {
			return bad, ctx.Err()
		}
		return bad, errors.Join(errs...)
	}
	return bad, nil
}

// WriteResult is what Sink.Write returns after a write that rejected bad
// and ended with err: err (marked retryable unless it is fatal or ctx's,
// so the engine writes the batch again), else the rejected records as
// *api.RecordErrors in batch order, else nil.
func WriteResult(ctx context.Context, bad api.RecordErrors, err error) error {
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil && api.IsFatal(err):
		return err
	case err != nil:
		return api.Retryable(err)
	case len(bad) > 0:
		slices.SortFunc(bad, func(a, b api.RecordError) int { return cmp.Compare(a.Index, b.Index) })
		return &bad
	}
	return nil
}
