package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker/cluster"
)

// DistributedConfig configures a cluster worker.
type DistributedConfig struct {
	// Config is the standalone worker's configuration; its Store must be
	// the ClusterStore below (the same value).
	Config
	// Cluster is the replicated store every worker shares.
	Cluster ClusterStore
	// Membership is this worker's gossip membership, created but not run:
	// Run runs it. Its name must equal WorkerID and its Meta.RESTURL must
	// be this worker's REST URL (followers forward writes there).
	Membership *cluster.Membership
	// Grace is how long a dead worker's tasks wait for it before moving;
	// 0 moves them at once.
	Grace time.Duration
	// DrainTimeout bounds how long a stopping worker waits for the leader
	// to move its tasks away; default 30s.
	DrainTimeout time.Duration
	// Peer returns the Controller of the worker whose REST URL is
	// restURL as this worker calls it: writes are forwarded to the leader
	// through it (the binary passes internal/client.NewPeer). Required.
	Peer func(restURL string) (Controller, error)
	// LeaderWait bounds how long a REST write waits for a reachable
	// leader while none is known or the leader cannot be reached (a new
	// one is being chosen), before failing with ErrNoLeader; default
	// 10s, at most MaxLeaderWait. The request's context bounds it too.
	LeaderWait time.Duration
	// Loggers, when set, are this process's log levels (the REST API's
	// too): every reconcile pass applies to them the levels set with
	// scope=cluster that it has not applied yet (SetClusterLogLevel).
	Loggers *LogLevels
	// Faults, when set, is a test hook: while it holds config reads the
	// worker neither leads nor applies assignments, so it keeps running
	// what it runs (pass the same Faults to the Membership to cut gossip
	// too). Nil in production.
	Faults *cluster.Faults
}

// Distributed is a cluster worker: a Controller whose reads come from the
// replicated store and whose writes are forwarded to the leader, and a
// loop that runs the tasks the leader's published assignment gives it.
//
// It runs on the engine the standalone worker runs on too: validation,
// planning, supervision with restart backoff, status and secrets are the
// engine's; what is Distributed's own is the assignment loop, the task
// sets the leader publishes, and forwarding writes to the leader (through
// DistributedConfig.Peer).
//
// Locking: opMu serialises the store writes of Controller operations run
// here as the leader and is released before the write wakes the loop;
// loopMu serialises reconcile passes (membership, store and timer
// wake-ups, REST writes on the leader); mu guards the fields read by REST
// and is taken inside loopMu, never the other way. opMu and loopMu are
// never held together.
type Distributed struct {
	cfg DistributedConfig
	eng *engine
	st  ClusterStore
	mem *cluster.Membership
	log *slog.Logger

	wake    chan struct{}
	started time.Time // when Run began, for the settle period

	// opMu serialises the store writes of Controller operations this
	// worker runs as the leader.
	opMu sync.Mutex

	loopMu sync.Mutex
	tasks  map[cluster.TaskID]*ownedTask // the tasks this worker runs; loopMu
	// claimed is true once this worker, as leader, has recorded itself as
	// the worker of every connector's own status; loopMu.
	claimed bool
	held    bool // config reads were held (Faults) at the last pass; loopMu
	// handOver holds the tasks of this worker's assignment waiting for
	// their previous owner to stop them, with when the wait began; loopMu.
	handOver map[cluster.TaskID]time.Time
	// traced holds, per connector with tasks or traces here, the Created
	// time of the connector they are of (forgetDeleted); loopMu.
	traced map[string]time.Time
	// rb is the rebalance being applied, or the last one; loopMu.
	rb rebalance

	// lvMu serialises applying the cluster-scoped log levels; lvVer is
	// the version of the register last applied and lvSeq the sequence
	// number of its last level (see clusterLevels).
	lvMu  sync.Mutex
	lvVer int64
	lvSeq int64

	mu       sync.Mutex
	owned    map[cluster.TaskID]*ownedTask // copy of tasks after each pass, for metrics
	leader   string
	members  []cluster.Member
	draining bool
	rbStats  rebalanceStats // copy of the rebalance figures after each pass, for metrics
}

// rebalance is this worker's part in applying one assignment generation:
// it begins when a pass first reads the generation and ends at the end of
// the pass after which every task of it runs here (none waits for its
// previous owner), or when a newer generation supersedes it.
type rebalance struct {
	gen     int64
	began   time.Time
	pending bool // not finished yet
	moved   bool // a task stopped or started here for it
	stats   rebalanceStats
}

// rebalanceStats are the figures ClusterMetrics reports.
type rebalanceStats struct {
	generation int64
	count      int64
	pending    bool
	lastPause  time.Duration
	last       time.Time
}

// begin starts the bookkeeping of generation gen, seen at now, finishing
// a rebalance it supersedes.
func (r *rebalance) begin(gen int64, now time.Time) {
	if gen == r.gen || gen == 0 {
		return
	}
	r.finish(now)
	r.gen, r.began, r.pending, r.moved = gen, now, true, false
	r.stats.generation, r.stats.pending = gen, true
}

// finish ends the pending rebalance at now, if one is pending.
func (r *rebalance) finish(now time.Time) {
	if !r.pending {
		return
	}
	r.pending = false
	r.stats.count++
	r.stats.pending = false
	r.stats.last = now
	r.stats.lastPause = 0
	if r.moved {
		r.stats.lastPause = now.Sub(r.began)
	}
}

// ownedTask is one task this worker runs (or holds PAUSED), with the key
// of the published state it was started from.
type ownedTask struct {
	key  taskKey
	conn *connState
	slot *taskSlot // nil while PAUSED
}

// taskKey is what a running task must match to stay up: a change of any
// field restarts it.
type taskKey struct {
	revision int64
	epoch    int64
	target   state.TargetState
	restarts int64
	count    int
	config   string // the task's config, canonical JSON
	// since is the generation that placed the task on this worker: it
	// grows when the task went elsewhere and came back, possibly before
	// this worker saw it go (a zombie). Its run then is fenced, or soon
	// will be, and must start again.
	since int64
}

// Bounds of DistributedConfig.LeaderWait. The maximum stays well under
// the REST server's request timeout (90 s), so a waiting write still gets
// its 503.
const (
	DefaultLeaderWait = 10 * time.Second
	MaxLeaderWait     = 60 * time.Second
)

// NewDistributed validates cfg and returns a worker ready to Run.
func NewDistributed(cfg DistributedConfig) (*Distributed, error) {
	if cfg.Cluster == nil || cfg.Membership == nil {
		return nil, errors.New("worker: Cluster and Membership are required")
	}
	if cfg.Store == nil {
		cfg.Store = cfg.Cluster
	}
	if cfg.Membership.Meta().WorkerID != cfg.WorkerID {
		return nil, fmt.Errorf("worker: membership name %q differs from worker id %q", cfg.Membership.Meta().WorkerID, cfg.WorkerID)
	}
	if cfg.Grace < 0 {
		return nil, errors.New("worker: Grace must not be negative")
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	switch {
	case cfg.LeaderWait < 0 || cfg.LeaderWait > MaxLeaderWait:
		return nil, fmt.Errorf("worker: LeaderWait %v is outside 0–%v", cfg.LeaderWait, MaxLeaderWait)
	case cfg.LeaderWait == 0:
		cfg.LeaderWait = DefaultLeaderWait
	}
	if cfg.Peer == nil {
		return nil, errors.New("worker: Peer is required (the Controller of the leader, for forwarded writes)")
	}
	if err := cfg.Config.Validate(); err != nil {
		return nil, err
	}
	cfg.Config = cfg.Config.withDefaults()
	eng, err := newEngine(cfg.Config)
	if err != nil {
		return nil, err
	}
	return &Distributed{
		cfg:   cfg,
		eng:   eng,
		st:    cfg.Cluster,
		mem:   cfg.Membership,
		log:   eng.log,
		wake:  make(chan struct{}, 1),
		tasks: map[cluster.TaskID]*ownedTask{},

		handOver: map[cluster.TaskID]time.Time{},
		traced:   map[string]time.Time{},
	}, nil
}

// WorkerID implements Controller.
func (d *Distributed) WorkerID() string { return d.cfg.WorkerID }

// kick asks the loop for a reconcile pass.
func (d *Distributed) kick() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run takes part in the cluster until ctx ends: it runs the membership,
// and on every change of the membership or the store it leads (when it is
// the leader) and applies the published assignment. When ctx ends it
// drains: it gossips its draining flag, keeps reconciling until the
// leader moved its tasks away (bounded by DrainTimeout; at once when it is
// the last worker), stops what it still runs, then leaves the cluster.
func (d *Distributed) Run(ctx context.Context) error {
	memCtx, memCancel := context.WithCancel(context.Background())
	memDone := make(chan error, 1)
	go func() { memDone <- d.mem.Run(memCtx) }()
	memRunning := true
	defer func() {
		memCancel()
		if !memRunning {
			return
		}
		if err := <-memDone; err != nil {
			d.log.Warn("membership", "err", err)
		}
	}()

	d.mu.Lock()
	d.started = time.Now()
	d.mu.Unlock()
	changes, stopWatch := d.st.Watch()
	defer stopWatch()
	d.baselineClusterLevels(ctx)
	d.log.Info("cluster worker started", "gossip", d.mem.Addr())

	tick := time.NewTicker(time.Second) // a safety net; changes wake the loop at once
	defer tick.Stop()
	var graceTimer <-chan time.Time
	var drainDeadline <-chan time.Time
	done := ctx.Done()
	for {
		next := d.reconcile(context.Background())
		graceTimer = nil
		if !next.IsZero() {
			graceTimer = time.After(time.Until(next) + 10*time.Millisecond)
		}
		if drainDeadline != nil && d.drained() {
			break
		}
		select {
		case <-done:
			done = nil
			d.mu.Lock()
			d.draining = true
			d.mu.Unlock()
			d.log.Info("draining: waiting for the leader to move this worker's tasks")
			if err := d.mem.SetDraining(true, 2*time.Second); err != nil {
				d.log.Warn("gossip draining flag", "err", err)
			}
			drainDeadline = time.After(d.cfg.DrainTimeout)
		case <-drainDeadline:
			d.log.Warn("drain timeout: stopping the tasks still assigned here", "timeout", d.cfg.DrainTimeout)
			d.stopAll()
			d.log.Info("cluster worker stopped")
			return nil
		case err := <-memDone:
			// Membership ended on its own (it could not start, or was
			// closed): without gossip this worker must not keep tasks.
			memRunning = false
			d.stopAll()
			if err == nil {
				err = errors.New("membership ended")
			}
			return fmt.Errorf("worker: cluster membership: %w", err)
		case <-d.mem.Changes():
		case <-changes:
		case <-d.wake:
		case <-tick.C:
		case <-graceTimer:
		}
	}
	d.stopAll()
	d.log.Info("cluster worker stopped")
	return nil
}

// drained reports whether a draining worker may leave: it runs nothing, or
// no other live worker could take its tasks.
func (d *Distributed) drained() bool {
	d.loopMu.Lock()
	n := len(d.tasks)
	d.loopMu.Unlock()
	if n == 0 {
		return true
	}
	for _, w := range cluster.LiveWorkers(d.mem.Members()) {
		if w.ID != d.cfg.WorkerID && !w.Draining {
			return false
		}
	}
	return true
}

// stopAll soft-stops every task this worker runs and marks it UNASSIGNED.
func (d *Distributed) stopAll() {
	d.loopMu.Lock()
	defer d.loopMu.Unlock()
	var stop []*ownedTask
	for id, o := range d.tasks {
		stop = append(stop, o)
		delete(d.tasks, id)
	}
	d.stopOwned(context.Background(), stop)
}

// reconcile is one pass of the loop: compute the leader, lead if it is
// this worker, apply the assignment. It returns when the next grace period
// ends (zero when none).
func (d *Distributed) reconcile(ctx context.Context) time.Time {
	d.loopMu.Lock()
	defer d.loopMu.Unlock()
	members := d.mem.Members()
	leader, _ := cluster.Leader(cluster.LiveWorkers(members))
	d.mu.Lock()
	if leader != d.leader {
		d.log.Info("leader", "id", leader)
	}
	d.leader, d.members = leader, members
	d.mu.Unlock()

	if held := d.cfg.Faults.ConfigHeld(); held != d.held {
		d.held = held
		d.log.Warn("test fault: config reads", "held", held)
	}
	if d.held {
		return time.Time{}
	}
	d.applyClusterLevels(ctx)
	var next time.Time
	if leader == d.cfg.WorkerID {
		quorate, n, err := d.lead(ctx, members)
		if err != nil {
			d.log.Warn("leading", "err", err)
		}
		next = n
		if !d.claimed && quorate {
			d.claimed = d.claimConnectorStatuses(ctx)
		}
	} else {
		d.claimed = false
	}
	if err := d.applyAssignment(ctx, members); err != nil {
		d.log.Warn("applying the assignment", "err", err)
	}
	if len(d.handOver) > 0 {
		// Status changes do not wake the loop: look again soon for the
		// previous owners' stops.
		soon := time.Now().Add(handOverPoll)
		if next.IsZero() || soon.Before(next) {
			next = soon
		}
	}
	d.mu.Lock()
	d.owned = maps.Clone(d.tasks)
	d.rbStats = d.rb.stats
	d.mu.Unlock()
	held := map[string]bool{}
	for id := range d.tasks {
		held[id.Connector] = true
	}
	d.eng.keepLatencies(func(conn string) bool { return held[conn] })
	return next
}

// claimConnectorStatuses records this worker, the new leader, as the
// worker of every connector's own status line (the leader plans them), so
// status never names a departed leader. It reports whether every line is
// now this worker's.
func (d *Distributed) claimConnectorStatuses(ctx context.Context) bool {
	defs, err := d.st.Connectors(ctx)
	if err != nil {
		return false
	}
	for _, def := range defs {
		sts, err := d.st.Statuses(ctx, def.Name)
		if err != nil {
			return false
		}
		for _, st := range sts {
			if st.Task == state.ConnectorTask && st.WorkerID != d.cfg.WorkerID {
				d.eng.putStatus(def.Name, state.ConnectorTask, st.State, st.Trace, d.eng.nextGen())
			}
		}
	}
	return true
}

// lead publishes what only the leader writes: a task set for every
// connector whose revision changed (planned once, here) and a tombstone
// for deleted ones, then the next assignment when it differs from the
// published one. The assignment is a compare-and-set on the version it
// was computed from, so of two momentary leaders only one wins. It
// reports whether this worker sees a quorum of the assigned workers (a
// cut-off worker that believes it leads must not write as the leader)
// and when the next grace period ends.
func (d *Distributed) lead(ctx context.Context, members []cluster.Member) (bool, time.Time, error) {
	defs, err := d.st.Connectors(ctx)
	if err != nil {
		return false, time.Time{}, err
	}
	var tasks []cluster.TaskID
	live := map[string]bool{}
	for _, def := range defs {
		live[def.Name] = true
		ts, ver, err := readTaskSet(ctx, d.st, def.Name)
		if err != nil {
			return false, time.Time{}, err
		}
		if ver == 0 || ts.Revision != def.Revision {
			if ts, err = d.publishPlan(ctx, def, ts, ver); err != nil {
				if errors.Is(err, ErrRegisterConflict) {
					d.kick() // planned by another writer meanwhile: read it next pass
					return false, time.Time{}, nil
				}
				return false, time.Time{}, err
			}
		}
		for i := range ts.Configs {
			tasks = append(tasks, cluster.TaskID{Connector: def.Name, Task: i})
		}
	}
	keys, err := d.st.RegisterKeys(ctx, regTasks)
	if err != nil {
		return false, time.Time{}, err
	}
	for _, k := range keys {
		name := strings.TrimPrefix(k, regTasks)
		if live[name] {
			continue
		}
		ts, ver, err := readTaskSet(ctx, d.st, name)
		if err != nil || ts.Revision == 0 {
			continue
		}
		if _, err := d.putTaskSet(ctx, name, ver, taskSet{}); err != nil {
			return false, time.Time{}, err
		}
	}

	prev, ver, err := readAssignment(ctx, d.st)
	if err != nil {
		return false, time.Time{}, err
	}
	workers := cluster.LiveWorkers(members)
	if !hasQuorum(prev, workers, members) {
		d.log.Warn("not publishing an assignment: this worker sees too few of the assigned workers (partitioned?)")
		return false, time.Time{}, nil
	}
	away, next := cluster.InGrace(cluster.Departures(members), time.Now(), d.cfg.Grace)
	// Just after this worker started, the workers of the published
	// assignment that gossip has not shown it yet are probably starting
	// too (a whole cluster restarting): their tasks wait for them a moment
	// instead of all landing on the first worker up and moving again.
	d.mu.Lock()
	settleEnd := d.started.Add(settlePeriod)
	d.mu.Unlock()
	if time.Now().Before(settleEnd) {
		known := map[string]bool{}
		for _, m := range members {
			known[m.Name] = true
		}
		for id := range prev.Workers {
			if !known[id] && !slices.Contains(away, id) {
				away = append(away, id)
				if next.IsZero() || settleEnd.Before(next) {
					next = settleEnd
				}
			}
		}
	}
	for _, id := range away {
		workers = append(workers, cluster.Worker{ID: id, Away: true})
	}
	plan, err := cluster.Assign(workers, tasks, prev)
	if err != nil {
		return true, next, err
	}
	if !plan.Changed {
		return true, next, nil
	}
	b, err := json.Marshal(plan.Assignment)
	if err != nil {
		return true, next, err
	}
	if _, err := d.st.PutRegister(ctx, regAssignment, ver, b); err != nil {
		if errors.Is(err, ErrRegisterConflict) {
			d.kick() // another leader published first: compute again from it
			return true, next, nil
		}
		return true, next, err
	}
	d.log.Info("assignment published", "generation", plan.Assignment.Generation, "moves", len(plan.Moves),
		"tasks", len(tasks), "workers", len(workers), "away", away, "unassigned", len(plan.Unassigned))
	return true, next, nil
}

// settlePeriod is how long a starting worker keeps the tasks of assigned
// workers it has not heard of yet in place.
const settlePeriod = 3 * time.Second

// hasQuorum reports whether a leader seeing the live workers may replace
// prev: it must see more than half of prev's workers that are still
// known to the membership and did not leave gracefully, or exactly half
// including the first of them by ID. A worker cut off from gossip sees
// the others dead and would lead a cluster of one; this keeps it from
// publishing assignments the real cluster then fights over. Workers the
// membership does not know at all (never seen, or pruned after its
// retention) do not count, so a cluster restarted under new worker IDs
// is not stuck.
func hasQuorum(prev cluster.Assignment, live []cluster.Worker, members []cluster.Member) bool {
	isLive := map[string]bool{}
	for _, w := range live {
		isLive[w.ID] = true
	}
	memberState := map[string]cluster.MemberState{}
	for _, m := range members {
		memberState[m.Name] = m.State
	}
	var voters []string
	seen := 0
	for id := range prev.Workers {
		st, known := memberState[id]
		if !known || st == cluster.StateLeft {
			continue
		}
		voters = append(voters, id)
		if isLive[id] {
			seen++
		}
	}
	if len(voters) == 0 || 2*seen > len(voters) {
		return true
	}
	return 2*seen == len(voters) && isLive[slices.Min(voters)]
}

// publishPlan plans def's tasks (the standalone's planner: the source's
// Plan or tasks.max copies), publishes the set and records the connector's
// own status. A connector that does not validate or plan is FAILED with no
// tasks; a STOPPED one has none.
func (d *Distributed) publishPlan(ctx context.Context, def state.Connector, old taskSet, ver int64) (taskSet, error) {
	ts := taskSet{Revision: def.Revision, Target: def.Target, Epoch: old.Epoch, Requests: old.Requests}
	c := &connState{def: def, v: d.eng.cfg.validate(def.Config)}
	want := state.StateRunning
	switch {
	case c.v.err() != nil:
		ts.Failed = "invalid configuration: " + newScrubber(c.v.literalSecrets(def.Config)).scrub(c.v.err().Error())
	case def.Target == state.TargetStopped:
		want = state.StateStopped
	default:
		raws, err := d.eng.plan(c)
		if err != nil {
			ts.Failed = err.Error()
			break
		}
		ts.Configs = raws
		ts.Restarts = make([]int64, len(raws))
		if def.Target == state.TargetPaused {
			want = state.StatePaused
		}
	}
	if ts.Failed != "" {
		want = state.StateFailed
	}
	if _, err := d.putTaskSet(ctx, def.Name, ver, ts); err != nil {
		return taskSet{}, err
	}
	d.eng.putStatus(def.Name, state.ConnectorTask, want, ts.Failed, d.eng.nextGen())
	d.log.Info("task configs published", "connector", def.Name, "revision", def.Revision, "tasks", len(ts.Configs), "state", want)
	return ts, nil
}

func (d *Distributed) putTaskSet(ctx context.Context, name string, ver int64, ts taskSet) (int64, error) {
	b, err := json.Marshal(ts)
	if err != nil {
		return 0, err
	}
	return d.st.PutRegister(ctx, regTasks+name, ver, b)
}

// applyAssignment makes the tasks this worker runs match the published
// assignment and task sets: it stops tasks it lost or whose published
// state changed (soft stop: offsets committed), then starts the new ones
// with the assignment's generation, which fences any earlier owner. A
// task that a live worker still reports running waits until that worker
// stopped it (see previousOwner).
func (d *Distributed) applyAssignment(ctx context.Context, members []cluster.Member) error {
	a, _, err := readAssignment(ctx, d.st)
	if err != nil {
		return err
	}
	d.rb.begin(a.Generation, time.Now())
	type want struct {
		key taskKey
		def state.Connector
		raw map[string]string
	}
	wants := map[cluster.TaskID]want{}
	sets := map[string]taskSet{}
	for _, slot := range a.Workers[d.cfg.WorkerID] {
		name := slot.Connector
		ts, ok := sets[name]
		if !ok {
			if ts, _, err = readTaskSet(ctx, d.st, name); err != nil {
				return err
			}
			sets[name] = ts
		}
		if ts.Revision == 0 || slot.Task >= len(ts.Configs) {
			continue
		}
		def, err := d.st.Connector(ctx, name)
		if err != nil {
			continue // deleted; the leader will drop its tasks
		}
		raw := ts.Configs[slot.Task]
		canon, _ := json.Marshal(raw) // map keys are sorted
		wants[slot.TaskID] = want{
			key: taskKey{revision: ts.Revision, epoch: ts.Epoch, target: ts.Target, restarts: ts.restarts(slot.Task),
				count: len(ts.Configs), config: string(canon), since: slot.Since},
			def: def, raw: raw,
		}
	}

	var stop []*ownedTask
	for id, o := range d.tasks {
		if w, ok := wants[id]; !ok || w.key != o.key {
			stop = append(stop, o)
			delete(d.tasks, id)
		}
	}
	d.stopOwned(ctx, stop)
	if len(stop) > 0 {
		d.rb.moved = true
	}
	current := map[string]time.Time{}
	for _, w := range wants {
		current[w.def.Name] = w.def.Created
	}
	d.forgetDeleted(ctx, current) // before this pass launches tasks: their traces are the new connector's

	for id := range d.handOver {
		if _, ok := wants[id]; !ok {
			delete(d.handOver, id)
		}
	}
	live := map[string]bool{}
	for _, w := range cluster.LiveWorkers(members) {
		live[w.ID] = true
	}
	ids := slices.SortedFunc(maps.Keys(wants), func(x, y cluster.TaskID) int { return x.Compare(y) })
	for _, id := range ids {
		if _, ok := d.tasks[id]; ok {
			continue
		}
		w := wants[id]
		c := &connState{def: w.def, v: d.eng.cfg.validate(w.def.Config)}
		var waited time.Duration
		if w.key.target != state.TargetPaused {
			var wait bool
			if waited, wait = d.awaitHandOver(ctx, id, c, live); wait {
				continue
			}
			d.fenceDeparted(ctx, id, live)
		}
		slot := &taskSlot{conn: id.Connector, index: id.Task, count: w.key.count, raw: w.raw, fixedGen: max(a.Generation, 1)}
		slot.gen.Store(slot.fixedGen)
		o := &ownedTask{key: w.key, conn: c}
		if w.key.target == state.TargetPaused {
			d.eng.putStatus(id.Connector, id.Task, state.StatePaused, "", slot.fixedGen)
		} else {
			o.slot = slot
			d.eng.launch(context.Background(), c, slot)
		}
		d.tasks[id] = o
		d.rb.moved = true
		d.log.Info("task started", "connector", id.Connector, "task", id.Task, "generation", slot.fixedGen, "target", w.key.target,
			"handover_wait", waited)
	}
	if len(d.handOver) == 0 {
		d.rb.finish(time.Now())
	}
	return nil
}

// forgetDeleted drops the traces this worker recorded of connectors that
// no longer exist, or exist again as a new connector of the same name
// (another Created time): a connector created later must not show its
// predecessor's events. current holds the Created time of the connectors
// this worker runs tasks of; the others are looked up. (Standalone
// forgets in its delete.)
func (d *Distributed) forgetDeleted(ctx context.Context, current map[string]time.Time) {
	held := d.eng.tracer.Connectors()
	for _, name := range held {
		created, ok := current[name]
		if !ok {
			def, err := d.st.Connector(ctx, name)
			if errors.Is(err, state.ErrNotFound) {
				d.eng.forgetTraces(name)
				delete(d.traced, name)
				continue
			}
			if err != nil {
				continue
			}
			created = def.Created
		}
		if prev, seen := d.traced[name]; seen && !prev.Equal(created) {
			d.eng.forgetTraces(name)
		}
		d.traced[name] = created
	}
	// The connectors this pass runs are the ones whose traces may appear
	// before the next pass: remember which connector they are of.
	for name, created := range current {
		d.traced[name] = created
	}
	for name := range d.traced {
		if _, ok := current[name]; !ok && !slices.Contains(held, name) {
			delete(d.traced, name)
		}
	}
}

// handOverPoll is how often a worker looks for the previous owners' stops
// while tasks wait for them.
const handOverPoll = 50 * time.Millisecond

// awaitHandOver reports whether task id must wait before it starts here,
// and how long it waited so far. A planned move (a worker joined, or the
// old owner drains) is stop-before-start: the new owner starts the task
// only once the old owner's status no longer says it runs it (the old
// owner writes UNASSIGNED after its soft stop, offsets committed), so the
// old owner's last batch is not written twice. The wait is bounded by the
// task's stop timeout plus a margin, in case the old owner cannot write
// its status. A dead or departed old owner is not waited for: the grace
// period already did, and fencing covers a zombie.
func (d *Distributed) awaitHandOver(ctx context.Context, id cluster.TaskID, c *connState, live map[string]bool) (time.Duration, bool) {
	began, waiting := d.handOver[id]
	now := time.Now()
	if !waiting {
		began = now
	}
	owner := d.previousOwner(ctx, id, live)
	limit := handOverMargin
	if c.v != nil && c.v.cfg != nil {
		limit += c.v.cfg.stopTimeout
	}
	if owner == "" || now.Sub(began) >= limit {
		if owner != "" {
			d.log.Warn("hand-over timed out: starting a task its previous owner still reports running",
				"connector", id.Connector, "task", id.Task, "owner", owner, "waited", now.Sub(began))
		}
		delete(d.handOver, id)
		return now.Sub(began), false
	}
	if !waiting {
		d.handOver[id] = began
		d.log.Info("task waits for its previous owner to stop it", "connector", id.Connector, "task", id.Task, "owner", owner)
	}
	return now.Sub(began), true
}

// handOverMargin is added to a task's stop timeout to bound the wait for
// its previous owner.
const handOverMargin = 5 * time.Second

// fenceDeparted fences the run of task id on its previous owner when that
// worker is gone (not live): it may be a zombie still running the task.
// Fenced before this worker's run reads the committed offsets, the
// zombie's commits either landed before (and this run resumes after
// them) or are refused, so no committed offset ever goes back. A failed
// fence is logged and the task starts anyway: the generation fence still
// holds after this run's first commit.
func (d *Distributed) fenceDeparted(ctx context.Context, id cluster.TaskID, live map[string]bool) {
	sts, err := d.st.Statuses(ctx, id.Connector)
	if err != nil {
		return
	}
	for _, st := range sts {
		if st.Task != id.Task || st.WorkerID == "" || st.WorkerID == d.cfg.WorkerID || live[st.WorkerID] {
			continue
		}
		fctx, cancel := context.WithTimeout(ctx, fenceTimeout)
		err := d.st.FenceRun(fctx, id.Connector, st.WorkerID, st.Generation)
		cancel()
		if err != nil {
			d.log.Warn("cannot fence the previous owner's run", "connector", id.Connector, "task", id.Task,
				"owner", st.WorkerID, "generation", st.Generation, "err", err)
		} else {
			d.log.Info("fenced the previous owner's run", "connector", id.Connector, "task", id.Task,
				"owner", st.WorkerID, "generation", st.Generation)
		}
	}
}

// fenceTimeout bounds the fence write before a task takes over from a
// departed worker.
const fenceTimeout = 10 * time.Second

// previousOwner returns the live worker other than this one whose status
// record says it runs task id (RUNNING or RESTARTING), or "".
func (d *Distributed) previousOwner(ctx context.Context, id cluster.TaskID, live map[string]bool) string {
	sts, err := d.st.Statuses(ctx, id.Connector)
	if err != nil {
		return ""
	}
	for _, st := range sts {
		if st.Task != id.Task || st.WorkerID == d.cfg.WorkerID || !live[st.WorkerID] {
			continue
		}
		if st.State == state.StateRunning || st.State == state.StateRestarting {
			return st.WorkerID
		}
	}
	return ""
}

// stopOwned soft-stops tasks at once and waits for them, then marks those
// whose connector still exists UNASSIGNED (a status the new owner's
// higher generation overrides).
func (d *Distributed) stopOwned(ctx context.Context, stop []*ownedTask) {
	if len(stop) == 0 {
		return
	}
	var slots []*taskSlot
	limit := time.Duration(0)
	for _, o := range stop {
		if o.slot != nil {
			slots = append(slots, o.slot)
			if o.conn.v != nil && o.conn.v.cfg != nil {
				limit = max(limit, o.conn.v.cfg.stopTimeout)
			}
		}
	}
	d.eng.stopSlots(slots, cmp.Or(limit, 10*time.Second))
	for _, o := range stop {
		name := o.conn.def.Name
		idx := -1
		var gen int64
		if o.slot != nil {
			idx, gen = o.slot.index, o.slot.gen.Load()
		}
		if idx >= 0 {
			if _, err := d.st.Connector(ctx, name); err == nil {
				d.eng.putStatus(name, idx, state.StateUnassigned, "", gen)
			}
			d.log.Info("task stopped", "connector", name, "task", idx, "generation", gen)
		}
	}
}

// leaderURL reports whether this worker is the leader, and the leader's
// REST URL when it is not ("" while no leader is known). It reads the
// membership itself rather than the loop's last pass, which a long pass
// (tasks stopping) can hold up.
func (d *Distributed) leaderURL() (self bool, url string) {
	members := d.mem.Members()
	leader, ok := cluster.Leader(cluster.LiveWorkers(members))
	if !ok {
		return false, ""
	}
	if leader == d.cfg.WorkerID {
		return true, ""
	}
	for _, m := range members {
		if m.Name == leader {
			return false, m.Meta.RESTURL
		}
	}
	return false, ""
}

// TaskMetrics implements TaskMetricsSource: the tasks this worker ran at
// the end of the last reconcile pass. It never waits for a pass.
func (d *Distributed) TaskMetrics() []TaskMetrics {
	d.mu.Lock()
	owned := d.owned
	d.mu.Unlock()
	var out []TaskMetrics
	for id, o := range owned {
		if o.slot == nil {
			continue
		}
		r := o.slot.runner.Load()
		if r == nil {
			continue
		}
		if m, ok := (*r).(metricsReader); ok {
			out = append(out, TaskMetrics{Connector: id.Connector, Task: id.Task, Tolerance: o.conn.tolerance(), Snapshot: m.Metrics()})
		}
	}
	slices.SortFunc(out, func(a, b TaskMetrics) int {
		return cmp.Or(strings.Compare(a.Connector, b.Connector), cmp.Compare(a.Task, b.Task))
	})
	return out
}

// ConnectorMetrics implements ConnectorMetricsSource: the connectors with
// a task on this worker at the end of the last reconcile pass.
func (d *Distributed) ConnectorMetrics() []ConnectorMetrics { return d.eng.connectorMetrics() }

// ClusterMetrics implements ClusterMetricsSource: the leader and the
// rebalances as of the last reconcile pass, the membership as it is now.
// It never waits for a pass.
func (d *Distributed) ClusterMetrics() ClusterMetrics {
	d.mu.Lock()
	leader, rb := d.leader, d.rbStats
	d.mu.Unlock()
	members := d.mem.Members()
	out := ClusterMetrics{
		Leader: leader == d.cfg.WorkerID, Generation: rb.generation, Rebalances: rb.count, Rebalancing: rb.pending,
		LastRebalancePause: rb.lastPause, LastRebalance: rb.last,
		Members: map[string]int{}, HealthScore: d.mem.HealthScore(),
	}
	for _, m := range members {
		out.Members[string(m.State)]++
	}
	return out
}

var (
	_ Controller             = (*Distributed)(nil)
	_ TaskMetricsSource      = (*Distributed)(nil)
	_ ConnectorMetricsSource = (*Distributed)(nil)
	_ ClusterMetricsSource   = (*Distributed)(nil)
	_ ClusterController      = (*Distributed)(nil)
)

// ClusterStatus implements ClusterController.
func (d *Distributed) ClusterStatus(ctx context.Context) (ClusterInfo, error) {
	members := d.mem.Members()
	leader, _ := cluster.Leader(cluster.LiveWorkers(members))
	out := ClusterInfo{WorkerID: d.cfg.WorkerID, Members: []ClusterMember{}, Leader: leader, Assignments: map[string][]ClusterTaskRef{}}
	for _, m := range members {
		out.Members = append(out.Members, ClusterMember{ID: m.Name, State: string(m.State), RESTURL: m.Meta.RESTURL,
			GossipAddr: m.Addr, Draining: m.Meta.Draining, Version: m.Meta.Version})
	}
	slices.SortFunc(out.Members, func(a, b ClusterMember) int { return strings.Compare(a.ID, b.ID) })
	a, _, err := readAssignment(ctx, d.st)
	if err != nil {
		return ClusterInfo{}, err
	}
	out.Generation = a.Generation
	for w, slots := range a.Workers {
		refs := []ClusterTaskRef{}
		for _, s := range slots {
			refs = append(refs, ClusterTaskRef{Connector: s.Connector, Task: s.Task, Since: s.Since})
		}
		out.Assignments[w] = refs
	}
	return out, nil
}
