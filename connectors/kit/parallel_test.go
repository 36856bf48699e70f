package kit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

type item struct {
	index int
	key   uint64
}

// TestPartitionByKey: every item lands in exactly one part, a key's
// items in one part and in the order given.
func TestPartitionByKey(t *testing.T) {
	t.Parallel()
	items := make([]item, 1000)
	for i := range items {
		items[i] = item{index: i, key: uint64(i*7919) % 37}
	}
	for _, n := range []int{0, 1, 2, 8, 100} {
		parts := kit.PartitionByKey(items, n, func(it *item) uint64 { return it.key })
		if n > 1 && len(parts) != min(n, 37) {
			t.Errorf("n=%d: %d parts", n, len(parts))
		}
		seen := map[int]bool{}
		partOf := map[uint64]int{}
		for p, part := range parts {
			if len(part) == 0 {
				t.Fatalf("n=%d: empty part", n)
			}
			last := map[uint64]int{}
			for _, it := range part {
				if seen[it.index] {
					t.Fatalf("n=%d: item %d twice", n, it.index)
				}
				seen[it.index] = true
				if q, ok := partOf[it.key]; ok && q != p {
					t.Fatalf("n=%d: key %d in parts %d and %d", n, it.key, q, p)
				}
				partOf[it.key] = p
				if l, ok := last[it.key]; ok && l > it.index {
					t.Fatalf("n=%d: key %d out of order", n, it.key)
				}
				last[it.key] = it.index
			}
		}
		if len(seen) != len(items) {
			t.Fatalf("n=%d: %d items, want %d", n, len(seen), len(items))
		}
	}
	if parts := kit.PartitionByKey([]item(nil), 4, func(it *item) uint64 { return it.key }); parts != nil {
		t.Fatalf("empty input gave %v", parts)
	}
}

// TestRunParallel: no more than parallelism groups run at once, every
// group runs once, rejected records come back merged in batch order and
// errors joined (fatal when one is).
func TestRunParallel(t *testing.T) {
	t.Parallel()
	groups := make([][]int, 20)
	for i := range 100 {
		groups[i%20] = append(groups[i%20], i)
	}
	var running, peak atomic.Int64
	var mu sync.Mutex
	ran := map[int]int{}
	bad, err := kit.RunParallel(context.Background(), groups, 3, func(_ context.Context, g []int) (api.RecordErrors, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		mu.Lock()
		ran[g[0]]++
		mu.Unlock()
		var rej api.RecordErrors
		for _, i := range g {
			if i%9 == 0 {
				rej = append(rej, api.RecordError{Index: i, Err: errors.New("bad")})
			}
		}
		return rej, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if peak.Load() > 3 {
		t.Errorf("%d groups ran at once, parallelism is 3", peak.Load())
	}
	if len(ran) != 20 {
		t.Errorf("%d groups ran, want 20", len(ran))
	}
	for g, n := range ran {
		if n != 1 {
			t.Errorf("group %d ran %d times", g, n)
		}
	}
	var idx []int
	for _, re := range bad {
		idx = append(idx, re.Index)
	}
	want := []int{0, 9, 18, 27, 36, 45, 54, 63, 72, 81, 90, 99}
	if !slices.Equal(idx, want) {
		t.Errorf("rejected %v, want %v", idx, want)
	}

	_, err = kit.RunParallel(context.Background(), groups, 4, func(_ context.Context, g []int) (api.RecordErrors, error) {
		switch g[0] {
		case 3:
			return nil, api.Fatal(errors.New("access denied"))
		case 5:
			return nil, errors.New("timeout")
		}
		return nil, nil
	})
	if err == nil || !api.IsFatal(err) {
		t.Errorf("error %v, want a fatal join", err)
	}
}

func TestWriteResult(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bad := api.RecordErrors{{Index: 5, Err: errors.New("x")}, {Index: 2, Err: errors.New("y")}}
	var re *api.RecordErrors
	if err := kit.WriteResult(ctx, bad, nil); !errors.As(err, &re) || (*re)[0].Index != 2 {
		t.Errorf("WriteResult(bad, nil) = %v, want the record errors in order", err)
	}
	if err := kit.WriteResult(ctx, bad, errors.New("timeout")); errors.As(err, &re) || !api.IsRetryable(err) || api.IsFatal(err) {
		t.Errorf("a transient failure must make the whole batch retry, got %v", err)
	}
	if err := kit.WriteResult(ctx, nil, api.Fatal(errors.New("denied"))); !api.IsFatal(err) {
		t.Errorf("fatal lost: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := kit.WriteResult(cctx, nil, errors.New("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v", err)
	}
	if err := kit.WriteResult(ctx, nil, nil); err != nil {
		t.Errorf("nothing failed: %v", err)
	}
}

// TestResume: the engine's retry of a failed Write skips what it stored,
// and only then.
func TestResume(t *testing.T) {
	t.Parallel()
	recs := make([]api.Record, 6)
	for i := range recs {
		recs[i].Event = api.Event{ID: fmt.Sprint(i), Source: "/s"}
	}
	var r kit.Resume
	write := func(store func(i int) bool, err error) (skipped []int) {
		r.Begin(len(recs))
		for i := range recs {
			if r.Skip(recs, i) {
				skipped = append(skipped, i)
				continue
			}
			if store(i) {
				r.Stored(i)
			}
		}
		r.End(recs, err)
		return skipped
	}
	// A Write stores 0, 2 and 3, then fails transiently.
	if s := write(func(i int) bool { return i == 0 || i == 2 || i == 3 }, api.Retryable(errors.New("timeout"))); s != nil {
		t.Fatalf("first write skipped %v", s)
	}
	// The retry skips exactly those, and fails again after storing 1.
	if s := write(func(i int) bool { return i == 1 }, errors.New("unmarked, so retryable")); !slices.Equal(s, []int{0, 2, 3}) {
		t.Fatalf("retry skipped %v, want [0 2 3]", s)
	}
	// The next retry skips everything stored so far.
	if s := write(func(int) bool { return true }, nil); !slices.Equal(s, []int{0, 1, 2, 3}) {
		t.Fatalf("second retry skipped %v, want [0 1 2 3]", s)
	}
	// After a success, a fatal error or rejected records nothing is skipped.
	for _, err := range []error{nil, api.Fatal(errors.New("denied")), &api.RecordErrors{{Index: 1, Err: errors.New("x")}}} {
		write(func(int) bool { return true }, err)
		if s := write(func(int) bool { return true }, nil); s != nil {
			t.Fatalf("after %v the next write skipped %v", err, s)
		}
	}
}

func TestTriageMark(t *testing.T) {
	t.Parallel()
	errDenied, errBusy, errTooBig, errOther := errors.New("denied"), errors.New("busy"), errors.New("too big"), errors.New("other")
	tr := kit.Triage{
		Classify: func(err error) kit.Class {
			switch {
			case errors.Is(err, errDenied):
				return kit.Fatal
			case errors.Is(err, errTooBig):
				return kit.RecordFault
			}
			return kit.Transient
		},
		RetryAfter: func(err error) time.Duration {
			if errors.Is(err, errBusy) {
				return 3 * time.Second
			}
			return 0
		},
	}
	if err := tr.Mark(fmt.Errorf("write: %w", errDenied)); !api.IsFatal(err) || !errors.Is(err, errDenied) {
		t.Errorf("fatal: %v", err)
	}
	if err := tr.Mark(errBusy); api.IsFatal(err) || api.BackoffHint(err) != 3*time.Second {
		t.Errorf("busy: %v, hint %v", err, api.BackoffHint(err))
	}
	for _, e := range []error{errTooBig, errOther} {
		if err := tr.Mark(e); !api.IsRetryable(err) || api.BackoffHint(err) != 0 {
			t.Errorf("%v: %v", e, err)
		}
	}
	if tr.Mark(nil) != nil {
		t.Error("Mark(nil) is not nil")
	}
	if re := kit.Reject(4, errTooBig); re.Index != 4 || !api.IsFatal(re.Err) || !errors.Is(re.Err, errTooBig) {
		t.Errorf("Reject: %+v", re)
	}
}
