package gctune

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// LimitPercent is how much the adaptive limit lets the heap grow over the
// live heap once that is above the floor: as GOGC=100 would.
const LimitPercent = 100

// AdaptiveLimit is the soft memory limit for a live heap of live bytes,
// with other bytes of runtime memory beside the heap (stacks, metadata):
// the live heap grown by percent of itself, plus an eighth for the heap's
// fragmentation and the time until the next adjustment, plus other; never
// under floor and never over ceiling (0: none).
//
// With GOGC=400 and percent=100 the collector then runs as GOGC=400 while
// the heap is well under the floor (the limit does not bind), holds the
// process's memory at the floor while the live heap is small (where
// GOGC=400 would let garbage grow to five times it and the heap's pages
// linger), and as GOGC=percent once the live heap is large. It is a pure
// function, so the policy is tested apart from the runtime.
func AdaptiveLimit(live, other int64, percent int, floor, ceiling int64) int64 {
	pct := int64(100 + max(percent, 0))
	goal := int64(math.MaxInt64 / 4)
	if live <= goal/pct {
		goal = live * pct / 100
	}
	l := goal + goal/8 + min(max(other, 0), math.MaxInt64/4)
	l = max(l, floor)
	if ceiling > 0 {
		l = min(l, ceiling)
	}
	return l
}

// The adaptive policy runs after every collection: a finalizer on an
// unreachable sentinel runs once per cycle and arms the next one, so no
// goroutine of ours polls and the limit is at most one cycle behind the
// live heap. policy holds the settings it follows; Apply replaces them,
// and nil stops the chain.
var (
	policyMu sync.Mutex
	policy   *Settings
	armed    bool
)

// sentinel is large enough, and holds a pointer, so that it is never
// batched with other tiny allocations (whose finalizers may never run).
type sentinel struct {
	_ *byte
	_ [16]byte
}

// follow makes the adaptive policy follow s, or stops it when s is not
// adaptive.
func follow(s Settings) {
	policyMu.Lock()
	defer policyMu.Unlock()
	if s.LimitSrc != "adaptive" {
		policy = nil
		return
	}
	policy = &s
	debug.SetMemoryLimit(s.Floor)
	if !armed {
		armed = true
		arm()
	}
}

func arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) { adjust() })
}

// memSamples are the runtime's memory classes adjust reads: the live heap
// as the last cycle marked it, and the memory the runtime holds.
var memSamples = []metrics.Sample{
	{Name: "/gc/heap/live:bytes"},
	{Name: "/memory/classes/total:bytes"},
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
	{Name: "/memory/classes/heap/free:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
}

// adjust sets the limit for the live heap the cycle just marked, and arms
// the next cycle's sentinel. It runs on the runtime's finalizer goroutine.
func adjust() {
	policyMu.Lock()
	defer policyMu.Unlock()
	if policy == nil {
		armed = false
		return
	}
	metrics.Read(memSamples)
	v := func(i int) int64 {
		if memSamples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return int64(memSamples[i].Value.Uint64())
	}
	live := v(0)
	other := v(1) - v(2) - v(3) - v(4) - v(5)
	want := AdaptiveLimit(live, other, LimitPercent, policy.Floor, policy.Limit)
	// Changes of under a sixteenth are not worth the runtime's lock.
	if cur := debug.SetMemoryLimit(-1); want > cur+cur/16 || want < cur-cur/16 {
		debug.SetMemoryLimit(want)
	}
	arm()
}
