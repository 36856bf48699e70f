package runtime

import "github.com/ferryhq/ferry/api"

// Watermark computes, per source partition, the newest position whose
// record and every earlier record of the same partition have been
// acknowledged. Records are tracked in the order the source produced them;
// acknowledgements may arrive in any order.
//
// It is a deterministic core: no I/O, no clock, no goroutines, and no
// locking — the caller serialises access. Track and Ack are O(1) amortised.
type Watermark struct {
	parts   map[string]*partition
	order   []*partition // in first-seen order, for deterministic output
	last    *partition   // cache: consecutive records usually share a partition
	pending int
}

// Mark identifies one tracked record; pass it back to Ack.
type Mark struct {
	p   *partition
	seq uint64
}

type partition struct {
	name string
	// entries[i] is the record with sequence base+i; entries before head
	// were already released.
	entries []entry
	head    int
	base    uint64
	// safe is the newest position released (every record at or before it
	// acknowledged); version counts its changes and committed is the
	// version last reported committed.
	safe      api.Position
	version   uint64
	committed uint64
}

type entry struct {
	pos   api.Position
	acked bool
}

// NewWatermark returns an empty watermark.
func NewWatermark() *Watermark {
	return &Watermark{parts: make(map[string]*partition)}
}

// Track registers the next record of partition, at position pos, and
// returns its mark. Records of one partition must be tracked in source
// order. A nil pos is tracked for ordering but never becomes the safe
// position.
func (w *Watermark) Track(partitionName string, pos api.Position) Mark {
	p := w.last
	if p == nil || p.name != partitionName {
		p = w.parts[partitionName]
		if p == nil {
			p = &partition{name: partitionName}
			w.parts[partitionName] = p
			w.order = append(w.order, p)
		}
		w.last = p
	}
	seq := p.base + uint64(len(p.entries)-p.head)
	p.entries = append(p.entries, entry{pos: pos})
	w.pending++
	return Mark{p: p, seq: seq}
}

// Ack records that the sink durably wrote (or deliberately skipped) the
// record of m, and reports whether that moved its partition's safe
// position. Acking a mark twice, or a mark from another Watermark, has no
// effect.
func (w *Watermark) Ack(m Mark) bool {
	p := m.p
	if p == nil || m.seq < p.base {
		return false
	}
	i := p.head + int(m.seq-p.base)
	if i >= len(p.entries) || p.entries[i].acked {
		return false
	}
	p.entries[i].acked = true
	w.pending--
	if i != p.head {
		return false
	}
	moved := false
	for p.head < len(p.entries) && p.entries[p.head].acked {
		if pos := p.entries[p.head].pos; pos != nil {
			p.safe = pos
			p.version++
			moved = true
		}
		p.entries[p.head] = entry{}
		p.head++
		p.base++
	}
	// Reuse the backing array once it is empty, or compact when the
	// released prefix dominates, so memory stays proportional to the
	// number of unacknowledged records.
	if p.head == len(p.entries) {
		p.entries = p.entries[:0]
		p.head = 0
	} else if p.head > 1024 && p.head > len(p.entries)/2 {
		n := copy(p.entries, p.entries[p.head:])
		clear(p.entries[n:])
		p.entries = p.entries[:n]
		p.head = 0
	}
	return moved
}

// Pending returns how many tracked records are not yet acknowledged.
func (w *Watermark) Pending() int { return w.pending }

// Safe returns the safe position of a partition, or nil when none yet.
func (w *Watermark) Safe(partitionName string) api.Position {
	if p := w.parts[partitionName]; p != nil {
		return p.safe
	}
	return nil
}

// Commit is a set of safe positions to store, taken by Uncommitted.
type Commit struct {
	Offsets  map[string]api.Position
	versions []partVersion
}

type partVersion struct {
	p *partition
	v uint64
}

// Uncommitted returns the safe positions that changed since the last
// Committed call, or a Commit with no Offsets when there is nothing new.
func (w *Watermark) Uncommitted() Commit {
	var c Commit
	for _, p := range w.order {
		if p.version != p.committed {
			if c.Offsets == nil {
				c.Offsets = make(map[string]api.Position)
			}
			c.Offsets[p.name] = p.safe
			c.versions = append(c.versions, partVersion{p, p.version})
		}
	}
	return c
}

// Committed records that c was stored, so its positions are no longer
// reported by Uncommitted unless they move again.
func (w *Watermark) Committed(c Commit) {
	for _, pv := range c.versions {
		if pv.v > pv.p.committed {
			pv.p.committed = pv.v
		}
	}
}

// Partition returns the name of the partition the marked record belongs to.
func (m Mark) Partition() string {
	if m.p == nil {
		return ""
	}
	return m.p.name
}
