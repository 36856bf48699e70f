package rocketmq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	rmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/rmqwire"
	"github.com/ferryhq/ferry/state"
)

// queue identifies one queue of one store topic.
type queue struct {
	kind   string // kindConfig, kindOffsets, kindStatus or kindSnapshot
	topic  string
	broker string // broker name
	id     int32
}

const kindSnapshot = "snapshot"

func (q queue) String() string { return fmt.Sprintf("%s/%s/%d", q.topic, q.broker, q.id) }

// Store is an state.Store replicated through RocketMQ topics; see the
// package documentation for the topics, the record format and the rules.
//
// Locking: mu guards st, next, covered, snapAt, snapSeen, pending, subs,
// applied, closed and the counters; it is never held across I/O. addrMu
// guards addrs.
type Store struct {
	cfg      Config
	log      *slog.Logger
	ns       nameServers
	creds    rmqwire.Credentials
	producer rmq.Producer
	token    string // this store instance, in the records it writes
	group    string // the consumer group named in pulls (no offsets are kept)
	queues   map[string][]queue
	nonce    atomic.Uint64
	snapSeq  atomic.Uint64
	// adjustFirst, when set, alters the broker's answer in firstOffset
	// (tests simulate deletion by age through it).
	adjustFirst func(topic string, queueID int32, stored int64) int64

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	snapCh chan struct{}

	addrMu sync.Mutex
	addrs  map[string]string // broker name → master address

	mu       sync.Mutex
	closed   bool
	st       *view
	next     map[queue]int64            // next offset to apply
	covered  map[string]map[queue]int64 // kind → newest known snapshot coverage
	snapAt   map[string]time.Time       // kind → when its newest known snapshot was written, or before any its oldest record
	snapSeen map[string]bool            // kind → a snapshot of it is known (snapAt is the snapshot's)
	pending  map[uint64]*pendingWrite   // nonce → outcome, for this store's writes
	applied  chan struct{}              // closed and replaced after every applied batch
	subs     map[*subscriber]struct{}   // Subscribe
	stats    Stats
	openDone bool
}

type pendingWrite struct {
	done bool
	out  outcome
}

// Stats are counters for tests and metrics.
type Stats struct {
	// SnapshotsLoaded is how many topic kinds Open restored from a
	// snapshot (0–3).
	SnapshotsLoaded int
	// ReplayedAtOpen is how many log records Open applied after the
	// snapshots before it returned: the tail.
	ReplayedAtOpen int64
	// Applied is how many log records were applied since Open began.
	Applied int64
	// SnapshotsWritten counts snapshots this store wrote.
	SnapshotsWritten int64
	// Skipped counts records that could not be decoded or applied.
	Skipped int64
	// Unsnapshotted is how many records, over all topics, follow the
	// newest snapshots this store knows of: what a store opened now would
	// replay.
	Unsnapshotted int64
}

var _ state.Store = (*Store)(nil)

var instanceSeq atomic.Int64

// Open connects to RocketMQ, creates the store topics if missing, restores
// the newest snapshots, reads the tail after them and returns once the
// store reflects every record that existed when it was called. ctx bounds
// only Open; the store runs until Close.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	return openWith(ctx, cfg, nil)
}

// openWith is Open with a seam for tests: adjustFirst, unless nil, is
// given the broker's answer for a queue's earliest stored offset and
// returns the one the store uses, so a test can make the broker look as
// if it had deleted records by age.
func openWith(ctx context.Context, cfg Config, adjustFirst func(topic string, queueID int32, stored int64) int64) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.InstanceName == "" {
		who := cfg.WorkerID
		if who == "" {
			who = fmt.Sprint(os.Getpid())
		}
		cfg.InstanceName = "ferry-" + who
	}
	s := &Store{
		cfg:      cfg,
		log:      cfg.Logger.With("store", "rocketmq", "cluster", cfg.Cluster),
		ns:       nameServers{addrs: cfg.NameServers, creds: wireCreds(cfg.Credentials)},
		creds:    wireCreds(cfg.Credentials),
		token:    fmt.Sprintf("%016x", rand.Uint64()),
		group:    "ferry-" + cmp.Or(cfg.Cluster, cfg.ConfigTopic) + "-store",
		queues:   map[string][]queue{},
		snapCh:   make(chan struct{}, 1),
		addrs:    map[string]string{},
		st:       newView(),
		next:     map[queue]int64{},
		covered:  map[string]map[queue]int64{},
		snapAt:   map[string]time.Time{},
		snapSeen: map[string]bool{},
		pending:  map[uint64]*pendingWrite{},
		applied:  make(chan struct{}),
		subs:     map[*subscriber]struct{}{},
	}
	s.adjustFirst = adjustFirst
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.open(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	for _, t := range []struct {
		kind, topic string
		n           int
	}{
		{kindConfig, s.cfg.ConfigTopic, 1},
		{kindOffsets, s.cfg.OffsetsTopic, s.cfg.Queues},
		{kindStatus, s.cfg.StatusTopic, s.cfg.Queues},
		{kindSnapshot, s.cfg.SnapshotTopic, 1},
	} {
		qs, err := s.ensureTopic(ctx, t.kind, t.topic, t.n)
		if err != nil {
			return err
		}
		s.queues[t.kind] = qs
	}

	opts := []producer.Option{
		producer.WithNsResolver(primitive.NewPassthroughResolver(s.cfg.NameServers)),
		producer.WithGroupName(s.group),
		producer.WithInstanceName(fmt.Sprintf("%s-%d", s.cfg.InstanceName, instanceSeq.Add(1))),
		producer.WithQueueSelector(producer.NewManualQueueSelector()),
		producer.WithRetry(1),
		producer.WithSendMsgTimeout(3 * time.Second),
	}
	if !s.creds.IsEmpty() {
		opts = append(opts, producer.WithCredentials(primitive.Credentials{AccessKey: s.creds.AccessKey, SecretKey: s.creds.SecretKey}))
	}
	p, err := rmq.NewProducer(opts...)
	if err != nil {
		return fmt.Errorf("%w: producer: %v", ErrBroker, err)
	}
	if err := p.Start(); err != nil {
		return fmt.Errorf("%w: producer start: %v", ErrBroker, err)
	}
	s.producer = p

	// Where the log ends now: Open returns once it has applied up to here.
	targets := map[queue]int64{}
	for _, kind := range append(slices.Clone(kinds), kindSnapshot) {
		for _, q := range s.queues[kind] {
			max, err := queueOffset(ctx, s.addr(q), s.creds, q.topic, q.id, true)
			if err != nil {
				return err
			}
			targets[q] = max
		}
	}
	accepted, err := s.restore(ctx, targets)
	if err != nil {
		return err
	}

	for _, kind := range append(slices.Clone(kinds), kindSnapshot) {
		for _, q := range s.queues[kind] {
			s.wg.Add(1)
			go s.read(q)
		}
	}
	s.wg.Add(1)
	go s.snapshotter()

	for q, end := range targets {
		if err := s.waitApplied(ctx, q, end-1); err != nil {
			return fmt.Errorf("catching up %s to %d: %w", q, end, err)
		}
	}
	s.mu.Lock()
	s.stats.ReplayedAtOpen = s.stats.Applied
	s.openDone = true
	s.mu.Unlock()
	if accepted {
		// Seal what remains, so the next Open finds a snapshot past the
		// deleted records and starts normally.
		if err := s.Snapshot(ctx); err != nil {
			return fmt.Errorf("snapshot after accepting lost records: %w", err)
		}
	}
	s.log.Debug("store open", "tail", s.stats.ReplayedAtOpen, "snapshots", s.stats.SnapshotsLoaded)
	return nil
}

// ensureTopic creates topic with n queues on every master broker unless
// it exists, then waits for its route: the route is the proof.
func (s *Store) ensureTopic(ctx context.Context, kind, topic string, n int) ([]queue, error) {
	r, err := s.ns.route(ctx, topic)
	if errors.Is(err, ErrTopic) {
		masters, merr := s.ns.masters(ctx, s.cfg.BrokerCluster)
		if merr != nil {
			return nil, merr
		}
		if len(masters) == 0 {
			return nil, fmt.Errorf("%w: no master broker to create %s on", ErrTopic, topic)
		}
		for _, addr := range masters {
			if err := createTopic(ctx, addr, s.creds, topic, n); err != nil {
				return nil, err
			}
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			if r, err = s.ns.route(ctx, topic); err == nil || !errors.Is(err, ErrTopic) || time.Now().After(deadline) {
				break
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return nil, err
			}
		}
	}
	if err != nil {
		return nil, err
	}
	s.addrMu.Lock()
	for _, b := range r.BrokerDatas {
		if a := b.Master(); a != "" {
			s.addrs[b.BrokerName] = a
		}
	}
	s.addrMu.Unlock()
	var qs []queue
	for _, qd := range r.QueueDatas {
		for i := range qd.ReadQueueNums {
			qs = append(qs, queue{kind: kind, topic: topic, broker: qd.BrokerName, id: int32(i)})
		}
	}
	slices.SortFunc(qs, func(a, b queue) int { return cmp.Or(cmp.Compare(a.broker, b.broker), cmp.Compare(a.id, b.id)) })
	if len(qs) == 0 || (n == 1 && len(qs) != 1) {
		return nil, fmt.Errorf("%w: %s has %d queues, the store needs %s", ErrTopic, topic, len(qs),
			map[bool]string{true: "exactly one (total order)", false: "at least one"}[n == 1])
	}
	return qs, nil
}

// firstOffset asks q's broker for the queue's earliest stored offset.
func (s *Store) firstOffset(ctx context.Context, q queue) (int64, error) {
	off, err := queueOffset(ctx, s.addr(q), s.creds, q.topic, q.id, false)
	if err == nil && s.adjustFirst != nil {
		off = s.adjustFirst(q.topic, q.id, off)
	}
	return off, err
}

// addr returns the master address of q's broker.
func (s *Store) addr(q queue) string {
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	return s.addrs[q.broker]
}

// refreshAddr re-reads q's route after failures: a restarted broker may
// come back elsewhere.
func (s *Store) refreshAddr(ctx context.Context, q queue) {
	r, err := s.ns.route(ctx, q.topic)
	if err != nil {
		return
	}
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	for _, b := range r.BrokerDatas {
		if a := b.Master(); a != "" {
			s.addrs[b.BrokerName] = a
		}
	}
}

// read is the goroutine that applies one queue, from next[q] on, until
// Close. Failures (broker down, restart) are retried with backoff.
func (s *Store) read(q queue) {
	defer s.wg.Done()
	var c *rmqwire.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	fails := 0
	for s.ctx.Err() == nil {
		if c == nil {
			var err error
			if c, err = dial(s.ctx, s.addr(q), s.creds); err != nil {
				fails = s.readFailed(q, fails, err)
				continue
			}
		}
		s.mu.Lock()
		from := s.next[q]
		s.mu.Unlock()
		began := time.Now()
		res, err := pull(s.ctx, c, s.group, q.topic, q.id, from, 32, s.cfg.Hold)
		if err == nil && len(res.msgs) == 0 && res.next == from && time.Since(began) < 10*time.Millisecond {
			// An empty answer without the hold (the broker asked for a
			// retry): pause rather than spin.
			err = sleep(s.ctx, 50*time.Millisecond)
		}
		if err != nil {
			c.Close()
			c = nil
			fails = s.readFailed(q, fails, err)
			continue
		}
		if fails > 0 {
			s.log.Info("store topic readable again", "queue", q.String(), "after_failures", fails)
			fails = 0
		}
		if res.moved {
			s.log.Error("store records lost: the broker no longer has them (deleted by age before a snapshot covered them)",
				"queue", q.String(), "from", from, "now_from", res.next)
		}
		s.applyBatch(q, from, res)
	}
}

func (s *Store) readFailed(q queue, fails int, err error) int {
	if s.ctx.Err() != nil {
		return fails
	}
	if fails == 0 {
		s.log.Warn("store topic unreadable, retrying", "queue", q.String(), "err", err)
	}
	if fails%5 == 4 {
		s.refreshAddr(s.ctx, q)
	}
	_ = sleep(s.ctx, backoff(fails))
	return fails + 1
}

// backoff is the delay after n consecutive failures: 100 ms doubling to
// 2 s, with jitter so workers do not retry in step.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n, 5)
	d = min(d, 2*time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// applyBatch applies what one pull returned.
func (s *Store) applyBatch(q queue, from int64, res pullResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.next[q] != from {
		return
	}
	var changes []Change
	for _, m := range res.msgs {
		if m.QueueOffset < s.next[q] {
			continue
		}
		s.next[q] = m.QueueOffset + 1
		r, err := decodeRecord(m.Body)
		if err == nil && q.kind == kindSnapshot {
			s.noteSnapshot(r)
			continue
		}
		var out outcome
		if err == nil {
			out, err = s.st.apply(r, m.QueueOffset)
		}
		if err != nil {
			s.stats.Skipped++
			s.log.Warn("store record skipped", "queue", q.String(), "offset", m.QueueOffset, "err", err)
			continue
		}
		s.stats.Applied++
		if !s.snapSeen[q.kind] {
			if t := notAfterNow(r.Time); s.snapAt[q.kind].IsZero() || t.Before(s.snapAt[q.kind]) {
				s.snapAt[q.kind] = t
			}
		}
		if r.Instance == s.token {
			if p := s.pending[r.Nonce]; p != nil && !p.done {
				p.done, p.out = true, out
			}
		}
		changes = append(changes, changeOf(r))
	}
	if res.next > s.next[q] {
		s.next[q] = res.next
	}
	close(s.applied)
	s.applied = make(chan struct{})
	s.notify(changes)
	if q.kind != kindSnapshot && s.cfg.SnapshotEvery > 0 && s.openDone && s.sinceSnapshot(q.kind) >= int64(s.cfg.SnapshotEvery) {
		select {
		case s.snapCh <- struct{}{}:
		default:
		}
	}
}

// sinceSnapshot is how many records of kind follow the newest snapshot
// this store knows of. mu held.
func (s *Store) sinceSnapshot(kind string) int64 {
	var n int64
	for _, q := range s.queues[kind] {
		n += s.next[q] - s.covered[kind][q]
	}
	return n
}

// waitApplied returns once this store has applied queue q up to offset
// off (inclusive).
func (s *Store) waitApplied(ctx context.Context, q queue, off int64) error {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return state.ErrClosed
		}
		if s.next[q] > off {
			s.mu.Unlock()
			return nil
		}
		ch := s.applied
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.ctx.Done():
			return state.ErrClosed
		}
	}
}

// queueFor picks the queue of kind a connector's records go to, so one
// connector's records keep their order.
func (s *Store) queueFor(kind, key string) queue {
	qs := s.queues[kind]
	h := fnv.New32a()
	h.Write([]byte(key))
	return qs[h.Sum32()%uint32(len(qs))]
}

// send writes body to queue q, retrying with backoff while the broker is
// unreachable, until ctx ends or the store closes. It returns the queue
// offset the broker stored the record at.
func (s *Store) send(ctx context.Context, q queue, body []byte) (int64, error) {
	for attempt := 0; ; attempt++ {
		msg := primitive.NewMessage(q.topic, body)
		msg.Queue = &primitive.MessageQueue{Topic: q.topic, BrokerName: q.broker, QueueId: int(q.id)}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		res, err := s.producer.SendSync(sctx, msg)
		cancel()
		if err == nil && res.Status == primitive.SendOK {
			return res.QueueOffset, nil
		}
		if err == nil {
			err = fmt.Errorf("send status %d", res.Status)
		}
		if attempt == 0 {
			s.log.Warn("store write failed, retrying", "queue", q.String(), "err", err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: write to %s: %v (last: %v)", ErrBroker, q, ctx.Err(), err)
		case <-s.ctx.Done():
			return 0, state.ErrClosed
		case <-time.After(backoff(attempt)):
		}
	}
}

// write appends one record to kind's topic and returns its outcome once
// this store's reader has applied it (read-your-writes).
func (s *Store) write(ctx context.Context, kind string, r record, payload any) (outcome, error) {
	if err := ctx.Err(); err != nil {
		return outcome{}, err
	}
	r.Writer, r.Instance, r.Nonce = s.cfg.WorkerID, s.token, s.nonce.Add(1)
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	body, err := encodeRecord(r, payload)
	if err != nil {
		return outcome{}, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return outcome{}, state.ErrClosed
	}
	p := &pendingWrite{}
	s.pending[r.Nonce] = p
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, r.Nonce)
		s.mu.Unlock()
	}()

	q := s.queueFor(kind, r.Key)
	off, err := s.send(ctx, q, body)
	if err != nil {
		return outcome{}, err
	}
	if err := s.waitApplied(ctx, q, off); err != nil {
		return outcome{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !p.done {
		// The reader skipped the offset (records lost) or could not
		// apply what it read there.
		return outcome{}, fmt.Errorf("%w: %s at %s offset %d was not applied", ErrRecord, r.Type, q, off)
	}
	return p.out, nil
}

// lock takes mu for a read after checking ctx and ErrClosed; the caller
// unlocks when err is nil.
func (s *Store) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return state.ErrClosed
	}
	return nil
}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty connector name: %w", errInvalid)
	}
	return nil
}

// PutConnector implements state.Store. The Revision is the record's
// config-topic offset + 1.
func (s *Store) PutConnector(ctx context.Context, c state.Connector) (state.Connector, error) {
	if err := checkName(c.Name); err != nil {
		return state.Connector{}, err
	}
	out, err := s.write(ctx, kindConfig, record{Type: recConnectorPut, Key: c.Name},
		connectorPayload{Config: maps.Clone(c.Config), Target: c.Target})
	if err != nil {
		return state.Connector{}, err
	}
	return out.connector, out.err
}

// DeleteConnector implements state.Store: a delete on the config topic,
// then a status.clear on the status topic (statuses live there, and only
// a record in the same queue orders the clear against task statuses).
func (s *Store) DeleteConnector(ctx context.Context, name string) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	_, ok := s.st.connectors[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("connector %q: %w", name, state.ErrNotFound)
	}
	out, err := s.write(ctx, kindConfig, record{Type: recConnectorDelete, Key: name}, nil)
	if err != nil {
		return err
	}
	if out.err != nil {
		return out.err
	}
	_, err = s.write(ctx, kindStatus, record{Type: recStatusClear, Key: name}, nil)
	return err
}

// Connector implements state.Store.
func (s *Store) Connector(ctx context.Context, name string) (state.Connector, error) {
	if err := s.lock(ctx); err != nil {
		return state.Connector{}, err
	}
	defer s.mu.Unlock()
	c, ok := s.st.connectors[name]
	if !ok {
		return state.Connector{}, fmt.Errorf("connector %q: %w", name, state.ErrNotFound)
	}
	return copyConnector(c), nil
}

// Connectors implements state.Store.
func (s *Store) Connectors(ctx context.Context) ([]state.Connector, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]state.Connector, 0, len(s.st.connectors))
	for _, name := range slices.Sorted(maps.Keys(s.st.connectors)) {
		out = append(out, copyConnector(s.st.connectors[name]))
	}
	return out, nil
}

// CommitOffsets implements state.Store. It fails early with ErrFenced
// when this store's view already holds a newer generation; otherwise the
// fence is decided when the record is applied, identically on every
// store, and a record fenced then changes nothing anywhere.
func (s *Store) CommitOffsets(ctx context.Context, connector string, generation int64, offsets map[string]api.Position) error {
	if err := checkName(connector); err != nil {
		return err
	}
	pps := make([]partitionPos, 0, len(offsets))
	for p, pos := range offsets {
		if pos != nil {
			pps = append(pps, newPartitionPos(p, pos))
		}
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	err := s.st.checkFence(connector, generation, pps)
	s.mu.Unlock()
	if err != nil || len(pps) == 0 {
		return err
	}
	out, err := s.write(ctx, kindOffsets, record{Type: recOffsetsCommit, Key: connector, Generation: generation},
		offsetsPayload{Offsets: pps})
	if err != nil {
		return err
	}
	return out.err
}

// FenceRun refuses every later commit of one run of a task: the run of
// generation that worker ran. It raises by one the generation of the
// connector's partitions that this run committed last, keeping their
// positions, and returns once this store applied it, so offsets read
// afterwards include everything the run committed before the fence. A
// cluster worker calls it before starting a task taken from a dead
// worker, which may still be running it (a zombie). Partitions the run
// never committed are not fenced.
func (s *Store) FenceRun(ctx context.Context, connector, worker string, generation int64) error {
	if err := checkName(connector); err != nil {
		return err
	}
	_, err := s.write(ctx, kindOffsets, record{Type: recOffsetsFence, Key: connector, Generation: generation},
		fencePayload{Worker: worker})
	return err
}

// Offsets implements state.Store.
func (s *Store) Offsets(ctx context.Context, connector string) (map[string]api.Position, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make(map[string]api.Position, len(s.st.offsets[connector]))
	for p, o := range s.st.offsets[connector] {
		out[p] = clonePosition(o.position)
	}
	return out, nil
}

// AlterOffsets implements state.Store.
func (s *Store) AlterOffsets(ctx context.Context, connector string, offsets map[string]api.Position) error {
	if err := checkName(connector); err != nil {
		return err
	}
	if offsets != nil && len(offsets) == 0 {
		return s.checkOpen(ctx)
	}
	p := offsetsPayload{Reset: offsets == nil, Offsets: encodeOffsets(offsets)}
	_, err := s.write(ctx, kindOffsets, record{Type: recOffsetsAlter, Key: connector}, p)
	return err
}

func (s *Store) checkOpen(ctx context.Context) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

// PutStatus implements state.Store. A zero Updated is stamped with the
// writer's clock.
func (s *Store) PutStatus(ctx context.Context, st state.Status) error {
	if err := checkName(st.Connector); err != nil {
		return err
	}
	if st.Task < state.ConnectorTask {
		return fmt.Errorf("status of %q: task %d: %w", st.Connector, st.Task, errInvalid)
	}
	if st.Updated.IsZero() {
		st.Updated = time.Now()
	}
	_, err := s.write(ctx, kindStatus, record{Type: recStatusPut, Key: st.Connector, Generation: st.Generation},
		statusPayload{Task: st.Task, State: st.State, WorkerID: st.WorkerID, Trace: st.Trace, Updated: st.Updated, Retrying: retryingPtr(st.RetryingSince)})
	return err
}

// Statuses implements state.Store.
func (s *Store) Statuses(ctx context.Context, connector string) ([]state.Status, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	tasks := s.st.statuses[connector]
	out := make([]state.Status, 0, len(tasks))
	for _, task := range slices.Sorted(maps.Keys(tasks)) {
		out = append(out, tasks[task])
	}
	return out, nil
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	for _, kind := range kinds {
		st.Unsnapshotted += s.sinceSnapshot(kind)
	}
	return st
}

// Close implements state.Store: it stops the readers and the snapshotter,
// waits for them, and shuts the producer down. Calls in flight return
// ErrClosed. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for sub := range s.subs {
		close(sub.ch)
		delete(s.subs, sub)
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	if s.producer != nil {
		if err := s.producer.Shutdown(); err != nil {
			return fmt.Errorf("rocketmq store: producer shutdown: %w", err)
		}
	}
	return nil
}
