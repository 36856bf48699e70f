package cluster

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// MemberState is a member's state as this worker sees it.
type MemberState string

// Member states. Alive and Suspect members are live; Dead and Left ones
// have departed.
const (
	// StateAlive: the member answers probes.
	StateAlive MemberState = "alive"
	// StateSuspect: this worker's probes of the member failed; unless it
	// refutes, it is declared dead after the suspicion timeout. Only this
	// worker's own suspicion shows (memberlist does not report the rest).
	StateSuspect MemberState = "suspect"
	// StateDead: the member stopped answering (crash, partition).
	StateDead MemberState = "dead"
	// StateLeft: the member left on purpose. Memberlist tells a leave
	// from a death to nobody, so a departed member that was draining is
	// reported Left: Leave marks the worker draining first.
	StateLeft MemberState = "left"
)

// Live reports whether the state counts as a live member.
func (s MemberState) Live() bool { return s == StateAlive || s == StateSuspect }

// Member is one worker of the cluster as this worker sees it.
type Member struct {
	Name  string      // the worker ID
	Addr  string      // gossip address host:port, as the member advertises it
	State MemberState //
	Since time.Time   // when State last changed, on this worker's clock
	Meta  Meta        // as last gossiped; zero if it could not be decoded
	Local bool        // this worker
}

// Membership is one worker's view of the cluster and its part in the
// gossip. Create it with NewMembership, then call Run.
//
// Concurrency: every method may be called from any goroutine at any time,
// also before Run and after it returned. Members and Changes never block on
// the network; SetDraining and Leave gossip and block up to their timeout.
type Membership struct {
	cfg       MembershipConfig
	log       *slog.Logger
	net       *memberlist.NetTransport
	transport memberlist.NodeAwareTransport // net, maybe wrapped by Faults
	addr      string                        // advertised gossip address
	changes   chan struct{}
	done      chan struct{} // closed when Run returns

	// life serializes the lifecycle (Run's start and end, Leave, Close)
	// and is held while calling memberlist's Leave and Shutdown. Lock
	// order: life, then memberlist's own locks, then mu. Memberlist calls
	// the delegates with its locks held, so they take only mu, and nothing
	// calls memberlist while holding mu.
	life    sync.Mutex
	ml      *memberlist.Memberlist
	keyring *memberlist.Keyring // nil before Run and without encryption
	// health is ml, for HealthScore: a scrape must not wait on life,
	// which a Leave holds for up to its timeout.
	health  atomic.Pointer[memberlist.Memberlist]
	running bool
	closed  bool
	stopped chan struct{} // closed by Leave and Close to end Run

	mu      sync.Mutex
	meta    Meta
	metaBuf []byte
	members map[string]*Member
}

// NewMembership validates cfg and binds the gossip port (so Addr is known
// at once). It does not contact anyone until Run. Close releases the port
// if Run is never called.
func NewMembership(cfg MembershipConfig) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Meta.StartTime.IsZero() {
		cfg.Meta.StartTime = time.Now()
	}
	cfg.Seeds = slices.Clone(cfg.Seeds)
	cfg.SecretKey = slices.Clone(cfg.SecretKey)
	cfg.Keys = cloneKeys(cfg.Keys)
	m := &Membership{
		cfg:     cfg,
		log:     cfg.Logger.With("worker", cfg.Name),
		changes: make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
		members: make(map[string]*Member),
	}
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{cfg.BindAddr},
		BindPort:  cfg.BindPort,
		Logger:    newStdLogger(m.log, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: bind gossip %s:%d: %w", cfg.BindAddr, cfg.BindPort, err)
	}
	m.net, m.transport = nt, nt
	if cfg.Faults != nil {
		m.transport = newFaultyTransport(nt, cfg.Faults)
	}
	if m.cfg.AdvertisePort == 0 {
		m.cfg.AdvertisePort = nt.GetAutoBindPort()
	}
	m.addr = net.JoinHostPort(cfg.AdvertiseAddr, strconv.Itoa(m.cfg.AdvertisePort))
	if err := m.setMeta(cfg.Meta); err != nil {
		m.closeUnused()
		return nil, err
	}
	return m, nil
}

// Addr returns the advertised gossip address, host:port, with the real
// port when BindPort was 0.
func (m *Membership) Addr() string { return m.addr }

// BoundPort returns the port the gossip listeners bound to.
func (m *Membership) BoundPort() int { return m.net.GetAutoBindPort() }

// Changes receives a value after any change of Members (a member joined,
// changed its Meta, became suspect, died or left). Signals coalesce: one
// value may stand for several changes, so read Members after it. The
// channel is never closed.
func (m *Membership) Changes() <-chan struct{} { return m.changes }

// Members returns every member this worker knows, this one included, dead
// and left ones for Retention after they departed, sorted by name.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.members))
	for _, mb := range m.members {
		out = append(out, *mb)
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Meta returns this worker's current metadata.
func (m *Membership) Meta() Meta {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.meta
}

// SetDraining sets the draining flag in this worker's metadata and gossips
// it, waiting up to timeout for the broadcast to go out. Before Run it only
// sets the flag, which Run then gossips.
func (m *Membership) SetDraining(draining bool, timeout time.Duration) error {
	m.life.Lock()
	defer m.life.Unlock()
	return m.setDrainingLocked(draining, timeout)
}

func (m *Membership) setDrainingLocked(draining bool, timeout time.Duration) error {
	meta := m.Meta()
	if meta.Draining == draining {
		return nil
	}
	meta.Draining = draining
	if err := m.setMeta(meta); err != nil {
		return err
	}
	if m.ml == nil || m.closed {
		return nil
	}
	if err := m.ml.UpdateNode(timeout); err != nil {
		return fmt.Errorf("cluster: gossip draining flag: %w", err)
	}
	return nil
}

func (m *Membership) setMeta(meta Meta) error {
	b, err := meta.encode()
	if err != nil {
		return err
	}
	if len(b) > memberlist.MetaMaxSize {
		return fmt.Errorf("%w: meta is %d bytes encoded; at most %d fit", ErrInvalidConfig, len(b), memberlist.MetaMaxSize)
	}
	m.mu.Lock()
	m.meta, m.metaBuf = meta, b
	m.mu.Unlock()
	return nil
}

// Run joins the seeds and takes part in the gossip until ctx ends, then
// leaves gracefully (bounded by LeaveTimeout), or until Leave or Close. It
// returns nil then, ErrRunning if called twice, ErrClosed after Close, or
// the error that kept memberlist from starting. Seeds that cannot be
// reached are not an error: they are tried again every RejoinInterval.
func (m *Membership) Run(ctx context.Context) error {
	if err := m.start(); err != nil {
		return err
	}
	defer close(m.done)

	m.rejoin()
	tick := time.NewTicker(m.cfg.RejoinInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			m.life.Lock()
			if !m.closed {
				if err := m.leaveLocked(m.cfg.LeaveTimeout); err != nil {
					m.log.Warn("leave on shutdown", "err", err)
				}
				m.shutdownLocked()
			}
			m.life.Unlock()
			return nil
		case <-m.stopped:
			return nil
		case <-tick.C:
			m.prune()
			m.rejoin()
		}
	}
}

func (m *Membership) start() error {
	m.life.Lock()
	defer m.life.Unlock()
	switch {
	case m.closed:
		return ErrClosed
	case m.running:
		return ErrRunning
	}
	var ring *memberlist.Keyring
	if keys := m.cfg.keyring(); len(keys) > 0 {
		var err error
		if ring, err = memberlist.NewKeyring(keys[1:], keys[0]); err != nil {
			m.closeUnusedLocked()
			m.closed = true
			close(m.stopped)
			return fmt.Errorf("cluster: gossip keyring: %w", err)
		}
	}
	mc := m.cfg.memberlistConfig(m.transport, m.cfg.AdvertisePort, ring)
	d := &delegate{m}
	mc.Delegate, mc.Events, mc.Ping = d, d, d
	mc.Logger = newStdLogger(m.log, m.suspect)
	ml, err := memberlist.Create(mc)
	if err != nil {
		m.closeUnusedLocked()
		m.closed = true
		close(m.stopped)
		return fmt.Errorf("cluster: start memberlist: %w", err)
	}
	m.ml, m.running, m.keyring = ml, true, ring
	m.health.Store(ml)
	return nil
}

// HealthScore is memberlist's awareness score of this worker: 0 when it
// keeps up with the gossip, higher (up to the configured
// AwarenessMaxMultiplier less one) when its probes time out or it had to
// refute suspicions, which says its own network or CPU is in trouble. It
// is -1 before Run started memberlist.
func (m *Membership) HealthScore() int {
	ml := m.health.Load()
	if ml == nil {
		return -1
	}
	return ml.GetHealthScore()
}

// rejoin joins every seed and the recently dead members. Memberlist never
// merges the two halves of a partition on its own, and a seed may hold a
// stale view of this worker (dead, at an old address) while this worker
// sees it alive, so seeds are joined even when they look alive: one
// push/pull exchange with each seed per RejoinInterval, the same kind of
// exchange memberlist does every PushPullInterval anyway.
func (m *Membership) rejoin() {
	m.life.Lock()
	ml, closed := m.ml, m.closed
	m.life.Unlock()
	if closed || ml == nil {
		return
	}
	alive := map[string]bool{m.addr: true}
	var targets []string
	m.mu.Lock()
	for _, mb := range m.members {
		if mb.State.Live() {
			alive[mb.Addr] = true
		}
	}
	for _, mb := range m.members {
		if mb.State == StateDead && !alive[mb.Addr] {
			targets = append(targets, mb.Addr)
		}
	}
	m.mu.Unlock()
	for _, s := range m.cfg.Seeds {
		if s != m.addr && !slices.Contains(targets, s) {
			targets = append(targets, s)
		}
	}
	if len(targets) == 0 {
		return
	}
	slices.Sort(targets)
	// Join runs without the lifecycle lock so Close stays prompt; a Join
	// racing Shutdown fails harmlessly.
	n, err := ml.Join(targets)
	if err != nil {
		m.log.Debug("join", "targets", targets, "reached", n, "err", err)
	}
}

// prune forgets members departed longer than Retention ago.
func (m *Membership) prune() {
	cutoff := time.Now().Add(-m.cfg.Retention)
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, mb := range m.members {
		if !mb.State.Live() && mb.Since.Before(cutoff) {
			delete(m.members, name)
		}
	}
}

// Leave leaves the cluster gracefully: it gossips the draining flag, then
// the leave, each waiting up to timeout, and stops the membership (Run
// returns). The others see this worker Left within about a second and can
// move its tasks without waiting for failure detection. A membership that
// left cannot join again: create a new one.
func (m *Membership) Leave(timeout time.Duration) error {
	return m.stop(true, timeout)
}

// Close stops the membership at once, without leaving: to the others this
// worker looks crashed. It is idempotent and waits for Run to return.
func (m *Membership) Close() error {
	_ = m.stop(false, 0)
	return nil
}

// stop ends the membership, leaving first if asked, and waits for Run.
func (m *Membership) stop(leave bool, timeout time.Duration) error {
	m.life.Lock()
	var err error
	switch {
	case leave && m.closed:
		err = ErrClosed
	case leave:
		err = m.leaveLocked(timeout)
	}
	m.shutdownLocked()
	running := m.running
	m.life.Unlock()
	if running {
		<-m.done
	}
	return err
}

func (m *Membership) leaveLocked(timeout time.Duration) error {
	err := m.setDrainingLocked(true, timeout)
	if m.ml != nil {
		if lerr := m.ml.Leave(timeout); lerr != nil && err == nil {
			err = fmt.Errorf("cluster: leave: %w", lerr)
		}
	}
	return err
}

func (m *Membership) shutdownLocked() {
	if m.closed {
		return
	}
	m.closed = true
	if m.ml != nil {
		if err := m.ml.Shutdown(); err != nil {
			m.log.Warn("memberlist shutdown", "err", err)
		}
	} else {
		m.closeUnusedLocked()
	}
	close(m.stopped)
}

func (m *Membership) closeUnused() {
	m.life.Lock()
	defer m.life.Unlock()
	m.closeUnusedLocked()
	m.closed = true
}

// closeUnusedLocked shuts down a transport memberlist never read from. Its
// listeners may be blocked handing over a packet that arrived; drain them
// so that Shutdown can finish.
func (m *Membership) closeUnusedLocked() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-m.transport.PacketCh():
			case c := <-m.transport.StreamCh():
				_ = c.Close()
			case <-stop:
				return
			}
		}
	}()
	if err := m.transport.Shutdown(); err != nil {
		m.log.Warn("gossip transport shutdown", "err", err)
	}
	close(stop)
	wg.Wait()
}

func (m *Membership) notify() {
	select {
	case m.changes <- struct{}{}:
	default:
	}
}

// suspect marks a member suspect when this worker's probe of it failed.
func (m *Membership) suspect(name string) { m.transition(name, StateAlive, StateSuspect) }

// transition moves a member from one state to another, if it is in from.
func (m *Membership) transition(name string, from, to MemberState) {
	m.mu.Lock()
	mb, ok := m.members[name]
	changed := ok && mb.State == from
	if changed {
		mb.State, mb.Since = to, time.Now()
	}
	m.mu.Unlock()
	if changed {
		m.notify()
	}
}

// delegate receives memberlist's callbacks. Memberlist calls them with its
// own locks held: they take only m.mu and never call memberlist.
type delegate struct{ m *Membership }

func (d *delegate) NodeMeta(limit int) []byte {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	if len(d.m.metaBuf) > limit {
		// setMeta checks the size, so this is unreachable; an empty meta
		// is better than memberlist's panic.
		return nil
	}
	return slices.Clone(d.m.metaBuf)
}

func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

func (d *delegate) NotifyJoin(n *memberlist.Node)   { d.update(n, StateAlive) }
func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.update(n, StateAlive) }

func (d *delegate) NotifyLeave(n *memberlist.Node) {
	m := d.m
	m.mu.Lock()
	mb := m.upsert(n)
	state := StateDead
	if mb.Meta.Draining {
		state = StateLeft
	}
	mb.State, mb.Since = state, time.Now()
	m.mu.Unlock()
	m.log.Info("member departed", "member", n.Name, "state", state)
	m.notify()
}

// NotifyPingComplete clears this worker's suspicion of a member that
// answered a probe again.
func (d *delegate) NotifyPingComplete(n *memberlist.Node, rtt time.Duration, payload []byte) {
	d.m.transition(n.Name, StateSuspect, StateAlive)
}

func (d *delegate) AckPayload() []byte { return nil }

func (d *delegate) update(n *memberlist.Node, state MemberState) {
	m := d.m
	m.mu.Lock()
	mb := m.upsert(n)
	joined := !mb.State.Live()
	if mb.State != state {
		mb.State, mb.Since = state, time.Now()
	}
	m.mu.Unlock()
	if joined {
		m.log.Info("member joined", "member", n.Name, "addr", mb.Addr)
	}
	m.notify()
}

// upsert records a node's address and meta; m.mu must be held.
func (m *Membership) upsert(n *memberlist.Node) *Member {
	mb, ok := m.members[n.Name]
	if !ok {
		mb = &Member{Name: n.Name, State: StateDead, Local: n.Name == m.cfg.Name}
		m.members[n.Name] = mb
	}
	mb.Addr = n.Address()
	if meta, err := decodeMeta(n.Meta); err != nil {
		m.log.Warn("undecodable member meta", "member", n.Name, "err", err)
		mb.Meta = Meta{}
	} else {
		mb.Meta = meta
	}
	return mb
}

// LiveWorkers turns the live members into Assign's and Leader's workers.
// Members whose Meta could not be decoded are left out.
func LiveWorkers(members []Member) []Worker {
	var out []Worker
	for _, mb := range members {
		if mb.State.Live() && mb.Meta.WorkerID == mb.Name {
			out = append(out, Worker{ID: mb.Name, Start: mb.Meta.StartTime, Draining: mb.Meta.Draining})
		}
	}
	return out
}

// Departures turns the dead and left members into InGrace's input.
func Departures(members []Member) []Departure {
	var out []Departure
	for _, mb := range members {
		if !mb.State.Live() {
			out = append(out, Departure{Worker: mb.Name, At: mb.Since, Graceful: mb.State == StateLeft})
		}
	}
	return out
}
