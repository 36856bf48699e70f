package rocketmq

// ChangeKind says which part of the state a Change touched.
type ChangeKind string

// Change kinds.
const (
	ChangeConnector ChangeKind = "connector" // a connector was put or deleted
	ChangeOffsets   ChangeKind = "offsets"   // a connector's offsets were committed or altered
	ChangeStatus    ChangeKind = "status"    // a connector's or task's status changed (or was cleared)
	ChangeMeta      ChangeKind = "meta"      // a cluster register was written (Connector is its key)
	// ChangeResync means changes were dropped because the subscriber fell
	// behind: re-read everything it cares about.
	ChangeResync ChangeKind = "resync"
)

// Change tells a subscriber that a record about Connector was applied.
// It carries no values: read them from the store, which already reflects
// the change when it is delivered.
type Change struct {
	Kind      ChangeKind
	Connector string
	// Writer is the WorkerID of the store that wrote the record.
	Writer string
}

// subBuffer is each subscriber's channel capacity. A subscriber that lets
// it fill gets ChangeResync instead of the changes that did not fit.
const subBuffer = 256

type subscriber struct {
	ch     chan Change
	missed bool // changes were dropped; deliver ChangeResync first
}

func changeOf(r record) Change {
	c := Change{Connector: r.Key, Writer: r.Writer}
	switch r.Type {
	case recConnectorPut, recConnectorDelete:
		c.Kind = ChangeConnector
	case recOffsetsCommit, recOffsetsAlter, recOffsetsFence:
		c.Kind = ChangeOffsets
	case recMetaPut:
		c.Kind = ChangeMeta
	default:
		c.Kind = ChangeStatus
	}
	return c
}

// Subscribe returns a channel of the changes this store applies from now
// on — written by any worker, this one included — in the order it applies
// them per topic queue (changes of different topics may interleave in any
// order). Delivery never blocks the store: a subscriber that falls more
// than 256 changes behind loses them and receives one ChangeResync once
// there is room. cancel (idempotent) and Close close the channel.
func (s *Store) Subscribe() (<-chan Change, func()) {
	sub := &subscriber{ch: make(chan Change, subBuffer)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(sub.ch)
		return sub.ch, func() {}
	}
	s.subs[sub] = struct{}{}
	return sub.ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.subs[sub]; ok {
			delete(s.subs, sub)
			close(sub.ch)
		}
	}
}

// notify delivers changes without blocking. mu held.
func (s *Store) notify(changes []Change) {
	if len(changes) == 0 {
		return
	}
	for sub := range s.subs {
		for _, c := range changes {
			if sub.missed {
				select {
				case sub.ch <- Change{Kind: ChangeResync}:
					sub.missed = false
				default:
					continue
				}
			}
			select {
			case sub.ch <- c:
			default:
				sub.missed = true
			}
		}
	}
}
