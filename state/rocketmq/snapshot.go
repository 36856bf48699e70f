package rocketmq

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// snapshotWindow is how many snapshot-queue messages Open reads per step
// while it walks the queue backwards from its end.
const snapshotWindow = 64

func coverKey(q queue) string { return q.broker + "/" + strconv.Itoa(int(q.id)) }

// assembly collects the chunks of one snapshot.
type assembly struct {
	kind    string
	chunks  int
	parts   map[int][]byte
	covers  map[string]int64
	last    int64     // queue offset of the newest chunk seen
	written time.Time // the writer's clock when it wrote the snapshot
}

func (a *assembly) complete() bool { return len(a.parts) == a.chunks }

func (a *assembly) data() []byte {
	var b []byte
	for i := range a.chunks {
		b = append(b, a.parts[i]...)
	}
	return b
}

func sumCovers(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// better reports whether a covers more of the log than b (a later
// snapshot), ties going to the one written last.
func (a *assembly) better(b *assembly) bool {
	if b == nil {
		return true
	}
	if sa, sb := sumCovers(a.covers), sumCovers(b.covers); sa != sb {
		return sa > sb
	}
	return a.last > b.last
}

// findSnapshots walks the snapshot queue backwards from end, a window at
// a time, until it holds a complete snapshot of every kind or reaches the
// queue's first stored message, and returns the best complete snapshot
// of each kind found.
func (s *Store) findSnapshots(ctx context.Context, q queue, start, end int64) (map[string]*assembly, error) {
	found := map[string]*assembly{}
	if end <= start {
		return found, nil
	}
	c, err := dial(ctx, s.addr(q), s.creds)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	byID := map[string]*assembly{}
	for hi := end; hi > start && len(found) < len(kinds); {
		lo := max(start, hi-snapshotWindow)
		for off := lo; off < hi; {
			res, err := pull(ctx, c, s.group, q.topic, q.id, off, 32, 0)
			if err != nil {
				return nil, err
			}
			if res.next <= off && len(res.msgs) == 0 {
				return nil, fmt.Errorf("%w: snapshot queue %s stuck at %d", ErrBroker, q, off)
			}
			for _, m := range res.msgs {
				if m.QueueOffset < off || m.QueueOffset >= hi {
					continue
				}
				r, err := decodeRecord(m.Body)
				if err != nil || r.Type != recSnapshot {
					s.log.Warn("snapshot queue: record skipped", "offset", m.QueueOffset, "err", err)
					continue
				}
				var p chunkPayload
				if err := decodePayload(r, &p); err != nil || p.Chunks <= 0 || p.Chunk < 0 || p.Chunk >= p.Chunks || !slices.Contains(kinds, p.Kind) {
					s.log.Warn("snapshot queue: chunk skipped", "offset", m.QueueOffset, "err", err)
					continue
				}
				if found[p.Kind] != nil {
					continue // a newer complete one is already found
				}
				a := byID[p.ID]
				if a == nil {
					a = &assembly{kind: p.Kind, chunks: p.Chunks, parts: map[int][]byte{}, covers: p.Covers}
					byID[p.ID] = a
				}
				a.parts[p.Chunk] = p.Data
				a.last = max(a.last, m.QueueOffset)
				if r.Time.After(a.written) {
					a.written = r.Time
				}
			}
			off = max(res.next, off+int64(len(res.msgs)))
			if res.moved {
				off = max(off, res.minOffset)
			}
		}
		for id, a := range byID {
			if a.complete() && a.better(found[a.kind]) {
				found[a.kind] = a
			}
			if found[a.kind] != nil && found[a.kind] != a {
				delete(byID, id) // free what will never be used
			}
		}
		hi = lo
	}
	return found, nil
}

// restore loads the newest snapshots and sets where each queue's reader
// starts: after the snapshot of its topic, or at the queue's first stored
// message when there is none. It refuses (ErrLostRecords) when the
// broker deleted records that the snapshots do not cover, unless
// AcceptLostRecords; it reports whether it accepted such a loss.
func (s *Store) restore(ctx context.Context, targets map[queue]int64) (accepted bool, err error) {
	sq := s.queues[kindSnapshot][0]
	first, err := s.firstOffset(ctx, sq)
	if err != nil {
		return false, err
	}
	found, err := s.findSnapshots(ctx, sq, first, targets[sq])
	if err != nil {
		return false, err
	}
	var qs []queueStart
	for _, kind := range kinds {
		a := found[kind]
		if a != nil {
			if err := s.st.loadPart(kind, a.data()); err != nil {
				return false, err
			}
			s.stats.SnapshotsLoaded++
			s.covered[kind] = map[queue]int64{}
			s.snapAt[kind], s.snapSeen[kind] = notAfterNow(a.written), true
		}
		for _, q := range s.queues[kind] {
			start := queueStart{queue: q}
			if a != nil {
				if off, ok := a.covers[coverKey(q)]; ok {
					start.covered, start.snapshot = off, true
					s.covered[kind][q] = off
				}
			}
			if start.first, err = s.firstOffset(ctx, q); err != nil {
				return false, err
			}
			qs = append(qs, start)
		}
	}
	if lost := lostRecords(qs); len(lost) > 0 {
		err := lostError(lost)
		if !s.cfg.AcceptLostRecords {
			return false, err
		}
		s.log.Error("starting with what remains (AcceptLostRecords); a new snapshot follows", "err", err)
		accepted = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next[sq] = targets[sq]
	for _, q := range qs {
		s.next[q.queue] = q.from()
	}
	return accepted, nil
}

// noteSnapshot records the coverage of a snapshot another store (or this
// one) wrote, read while tailing the snapshot queue, so this store does
// not write one the cluster already has. mu held.
func (s *Store) noteSnapshot(r record) {
	var p chunkPayload
	if err := decodePayload(r, &p); err != nil || p.Chunk != p.Chunks-1 {
		return
	}
	cov := map[queue]int64{}
	var sum int64
	for _, q := range s.queues[p.Kind] {
		cov[q] = p.Covers[coverKey(q)]
		sum += cov[q]
	}
	var old int64
	for _, v := range s.covered[p.Kind] {
		old += v
	}
	// Equal coverage is a newer snapshot of an idle cluster: it resets
	// the age clock.
	if sum >= old {
		s.covered[p.Kind] = cov
		s.snapAt[p.Kind], s.snapSeen[p.Kind] = notAfterNow(r.Time), true
	}
}

// snapshotter writes a snapshot of every topic kind once one of them has
// SnapshotEvery records after its newest known snapshot, or once the
// newest snapshot of one (before any, its oldest record) is
// MaxSnapshotAge old: the broker deletes old snapshots with old records,
// so even an idle cluster must write fresh ones. It waits a random moment
// first, so that of several workers finding a snapshot due together
// usually one writes and the others see its snapshot and skip.
func (s *Store) snapshotter() {
	defer s.wg.Done()
	tick := time.NewTicker(min(s.cfg.MaxSnapshotAge/4, time.Minute))
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.snapCh:
		case <-tick.C:
			s.mu.Lock()
			due := s.snapshotDue(time.Now())
			s.mu.Unlock()
			if !due {
				continue
			}
		}
		if sleep(s.ctx, rand.N(500*time.Millisecond)) != nil {
			return
		}
		s.mu.Lock()
		due := s.snapshotDue(time.Now())
		s.mu.Unlock()
		if !due {
			continue
		}
		// All kinds together, so Open finds a complete set close to the
		// end of the snapshot queue instead of walking back for a kind
		// that changes rarely.
		if err := s.Snapshot(s.ctx); err != nil && s.ctx.Err() == nil {
			s.log.Warn("store snapshot failed", "err", err)
		}
	}
}

// snapshotDue reports whether some kind needs a snapshot, by count or by
// age. mu held.
func (s *Store) snapshotDue(now time.Time) bool {
	if !s.openDone {
		return false
	}
	for _, kind := range kinds {
		if s.cfg.SnapshotEvery > 0 && s.sinceSnapshot(kind) >= int64(s.cfg.SnapshotEvery) ||
			ageDue(s.snapAt[kind], now, s.cfg.MaxSnapshotAge) {
			return true
		}
	}
	return false
}

// Snapshot writes a snapshot of every topic now and returns once the
// broker stored it.
func (s *Store) Snapshot(ctx context.Context) error {
	for _, kind := range kinds {
		if err := s.writeSnapshot(ctx, kind); err != nil {
			return err
		}
	}
	return nil
}

// writeSnapshot writes kind's materialised state and the offsets it
// covers as chunks of at most maxChunk bytes.
func (s *Store) writeSnapshot(ctx context.Context, kind string) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	data, err := s.st.encodePart(kind)
	covers := map[string]int64{}
	cov := map[queue]int64{}
	for _, q := range s.queues[kind] {
		covers[coverKey(q)] = s.next[q]
		cov[q] = s.next[q]
	}
	applied := s.stats.Applied
	s.mu.Unlock()
	if err != nil {
		return err
	}
	id := fmt.Sprintf("%s-%d", s.token, s.snapSeq.Add(1))
	n := max(1, (len(data)+maxChunk-1)/maxChunk)
	sq := s.queues[kindSnapshot][0]
	now := time.Now()
	for i := range n {
		part := data[i*maxChunk : min(len(data), (i+1)*maxChunk)]
		body, err := encodeRecord(record{Type: recSnapshot, Key: kind, Writer: s.cfg.WorkerID, Instance: s.token, Time: now},
			chunkPayload{ID: id, Kind: kind, Topic: s.queues[kind][0].topic, Chunk: i, Chunks: n, Covers: covers, Records: applied, Data: part})
		if err != nil {
			return err
		}
		if _, err := s.send(ctx, sq, body); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var old int64
	for _, v := range s.covered[kind] {
		old += v
	}
	if sumCovers(covers) >= old {
		s.covered[kind] = cov
		s.snapAt[kind], s.snapSeen[kind] = now, true
	}
	s.stats.SnapshotsWritten++
	return nil
}

// notAfterNow clamps a writer's timestamp to this clock: a writer whose
// clock runs ahead must not make a snapshot look younger than it is by
// more than the skew, nor make one look written in the future.
func notAfterNow(t time.Time) time.Time {
	if now := time.Now(); t.After(now) {
		return now
	}
	return t
}

// ageDue reports whether a snapshot is due by age: the newest snapshot
// (or the oldest unsnapshotted record) was written at basis, at least
// maxAge before now. A zero basis (nothing to snapshot) is never due.
func ageDue(basis, now time.Time, maxAge time.Duration) bool {
	return !basis.IsZero() && now.Sub(basis) >= maxAge
}
