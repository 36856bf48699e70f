package kit

import (
	"maps"
	"sync"

	"github.com/ferryhq/ferry/api"
)

// Progress is what a partitioned source shares between its reader and
// the engine's calls from other goroutines: the positions the engine
// committed that the source has yet to publish to its system (a Kafka
// consumer group, a RocketMQ group's offsets, a checkpoint service) and
// each partition's lag. A source embeds it and so implements
// api.CommitListener and api.LagReporter; its reader publishes what
// TakeCommitted returns (from Read, on a timer, and from Close) and
// reports lag with SetLag. The zero value is ready; all methods are safe
// for concurrent use and never block on I/O.
type Progress struct {
	mu        sync.Mutex
	committed map[string]api.Position // committed, not yet published
	lag       map[string]int64
}

// Committed implements api.CommitListener: it records the positions for
// the next TakeCommitted.
func (p *Progress) Committed(positions map[string]api.Position) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.committed == nil {
		p.committed = make(map[string]api.Position, len(positions))
	}
	maps.Copy(p.committed, positions)
}

// TakeCommitted returns the positions committed since the last call (nil
// when none) and forgets them.
func (p *Progress) TakeCommitted() map[string]api.Position {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.committed
	p.committed = nil
	return out
}

// Retry offers again positions whose publishing failed, for the next
// TakeCommitted, except where a newer position was committed meanwhile.
func (p *Progress) Retry(positions map[string]api.Position) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, pos := range positions {
		if _, newer := p.committed[name]; !newer {
			if p.committed == nil {
				p.committed = map[string]api.Position{}
			}
			p.committed[name] = pos
		}
	}
}

// Lag implements api.LagReporter: a copy of the lag set per partition,
// nil when none is known.
func (p *Progress) Lag() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.lag) == 0 {
		return nil
	}
	return maps.Clone(p.lag)
}

// SetLag records a partition's lag in records (negative counts as 0).
func (p *Progress) SetLag(partition string, records int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lag == nil {
		p.lag = map[string]int64{}
	}
	p.lag[partition] = max(records, 0)
}

// Forget drops a partition the source let go of for good (a drained,
// released shard): its lag and any committed position not yet published.
func (p *Progress) Forget(partition string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.lag, partition)
	delete(p.committed, partition)
}

// DropLag forgets a partition the source no longer reads.
func (p *Progress) DropLag(partition string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.lag, partition)
}
