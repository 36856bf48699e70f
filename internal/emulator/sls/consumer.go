package sls

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"
)

// Consumer groups: CRUD, heartbeats with server-side shard assignment, and
// checkpoints.

type consumerGroup struct {
	name        string
	timeout     int // seconds a consumer may stay silent before it is dropped
	inOrder     bool
	members     map[string]*member
	plan        map[int]string // shard → consumer meant to own it
	checkpoints map[int]*checkpoint
}

type member struct {
	lastSeen time.Time
	held     map[int]bool // shards listed in the last heartbeat or granted by it
}

type checkpoint struct {
	cursor   string
	updated  time.Time
	consumer string
}

// expire drops the consumers silent for longer than the group timeout; their
// shards are then free for the others at the next heartbeat.
func (g *consumerGroup) expire(now time.Time) {
	for name, m := range g.members {
		if now.Sub(m.lastSeen) > time.Duration(g.timeout)*time.Second {
			delete(g.members, name)
		}
	}
}

// replan recomputes the assignment over the current live consumers.
func (g *consumerGroup) replan(shards []int) {
	names := make([]string, 0, len(g.members))
	for n := range g.members {
		names = append(names, n)
	}
	g.plan = assign(shards, names, g.plan)
}

// grant returns the shards planned for consumer that no other live consumer
// still lists as held: a moved shard changes hands only after the old owner
// has let go of it, so two consumers never read it at once.
func (g *consumerGroup) grant(consumer string) []int {
	out := []int{}
	for s, c := range g.plan {
		if c != consumer {
			continue
		}
		busy := false
		for other, m := range g.members {
			if other != consumer && m.held[s] {
				busy = true
				break
			}
		}
		if !busy {
			out = append(out, s)
		}
	}
	sort.Ints(out)
	return out
}

type consumerGroupJSON struct {
	Name    string `json:"consumerGroup"`
	Timeout int    `json:"timeout"`
	InOrder bool   `json:"order"`
}

func (s *Server) createConsumerGroup(c *call) *apiError {
	var body consumerGroupJSON
	if aerr := c.decodeJSON(&body); aerr != nil {
		return aerr
	}
	if body.Name == "" {
		return errParameterInvalid("consumerGroup is required")
	}
	if body.Timeout <= 0 {
		return errParameterInvalid("timeout %d must be positive", body.Timeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, aerr := s.lookupLogstore(c.project, c.r.PathValue("logstore"))
	if aerr != nil {
		return aerr
	}
	if _, ok := ls.groups[body.Name]; ok {
		return newAPIError(http.StatusBadRequest, "ConsumerGroupAlreadyExist", "consumer group %s already exists", body.Name)
	}
	ls.groups[body.Name] = &consumerGroup{
		name: body.Name, timeout: body.Timeout, inOrder: body.InOrder,
		members: make(map[string]*member), plan: make(map[int]string), checkpoints: make(map[int]*checkpoint),
	}
	return writeJSON(c.w, nil)
}

func (s *Server) listConsumerGroups(c *call) *apiError {
	type item struct {
		Name    string `json:"name"`
		Timeout int    `json:"timeout"`
		InOrder bool   `json:"order"`
	}
	s.mu.Lock()
	ls, aerr := s.lookupLogstore(c.project, c.r.PathValue("logstore"))
	out := []item{}
	if aerr == nil {
		for _, g := range ls.groups {
			out = append(out, item{Name: g.name, Timeout: g.timeout, InOrder: g.inOrder})
		}
	}
	s.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return writeJSON(c.w, out)
}

// withGroup runs fn on the consumer group the call names, under s.mu.
func (s *Server) withGroup(c *call, fn func(ls *logstore, g *consumerGroup) *apiError) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, aerr := s.lookupLogstore(c.project, c.r.PathValue("logstore"))
	if aerr != nil {
		return aerr
	}
	name := c.r.PathValue("group")
	g, ok := ls.groups[name]
	if !ok {
		return errConsumerGroupNotExist(name)
	}
	return fn(ls, g)
}

func (s *Server) updateConsumerGroup(c *call) *apiError {
	var body struct {
		Timeout *int  `json:"timeout"`
		InOrder *bool `json:"order"`
	}
	if aerr := c.decodeJSON(&body); aerr != nil {
		return aerr
	}
	if body.Timeout != nil && *body.Timeout <= 0 {
		return errParameterInvalid("timeout %d must be positive", *body.Timeout)
	}
	aerr := s.withGroup(c, func(_ *logstore, g *consumerGroup) *apiError {
		if body.Timeout != nil {
			g.timeout = *body.Timeout
		}
		if body.InOrder != nil {
			g.inOrder = *body.InOrder
		}
		return nil
	})
	if aerr != nil {
		return aerr
	}
	return writeJSON(c.w, nil)
}

func (s *Server) deleteConsumerGroup(c *call) *apiError {
	aerr := s.withGroup(c, func(ls *logstore, g *consumerGroup) *apiError {
		delete(ls.groups, g.name)
		return nil
	})
	if aerr != nil {
		return aerr
	}
	return writeJSON(c.w, nil)
}

type checkpointJSON struct {
	Shard      int    `json:"shard"`
	Checkpoint string `json:"checkpoint"`
	UpdateTime int64  `json:"updateTime"` // microseconds, as SLS reports it
	Consumer   string `json:"consumer"`
}

func (s *Server) getCheckpoints(c *call) *apiError {
	only := -1
	if v := c.r.URL.Query().Get("shard"); v != "" {
		var aerr *apiError
		if only, aerr = intParam("shard", v); aerr != nil {
			return aerr
		}
	}
	out := []checkpointJSON{}
	aerr := s.withGroup(c, func(_ *logstore, g *consumerGroup) *apiError {
		for shard, cp := range g.checkpoints {
			if only >= 0 && shard != only {
				continue
			}
			out = append(out, checkpointJSON{Shard: shard, Checkpoint: cp.cursor, UpdateTime: cp.updated.UnixMicro(), Consumer: cp.consumer})
		}
		return nil
	})
	if aerr != nil {
		return aerr
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Shard < out[j].Shard })
	return writeJSON(c.w, out)
}

// consumerGroupAction serves the POSTs on a group, told apart by ?type=.
func (s *Server) consumerGroupAction(c *call) *apiError {
	q := c.r.URL.Query()
	consumer := q.Get("consumer")
	if consumer == "" {
		return errParameterInvalid("consumer is required")
	}
	switch q.Get("type") {
	case "heartbeat":
		return s.heartbeat(c, consumer)
	case "checkpoint":
		return s.updateCheckpoint(c, consumer, q.Get("forceSuccess") == "true")
	default:
		return errParameterInvalid("type %q is not heartbeat or checkpoint", q.Get("type"))
	}
}

// heartbeat registers the consumer as alive with the shards it lists as
// held, and answers with the shards it may consume now.
func (s *Server) heartbeat(c *call, consumer string) *apiError {
	var held []int
	if err := json.Unmarshal(c.body, &held); err != nil {
		return errPostBodyInvalid("heartbeat body is not a JSON array of shard ids: %v", err)
	}
	var granted []int
	aerr := s.withGroup(c, func(ls *logstore, g *consumerGroup) *apiError {
		now := s.cfg.Now()
		g.expire(now)
		m := g.members[consumer]
		if m == nil {
			m = &member{}
			g.members[consumer] = m
		}
		m.lastSeen = now
		m.held = make(map[int]bool, len(held))
		for _, id := range held {
			if id >= 0 && id < len(ls.shards) {
				m.held[id] = true
			}
		}
		g.replan(ls.shardIDs())
		granted = g.grant(consumer)
		// A granted shard counts as held from now on, not from the next
		// heartbeat: otherwise another consumer could be handed it in
		// between and both would read it. The consumer's next heartbeat
		// lists it until it has let go.
		for _, id := range granted {
			m.held[id] = true
		}
		return nil
	})
	if aerr != nil {
		return aerr
	}
	return writeJSON(c.w, granted)
}

// updateCheckpoint stores a shard's checkpoint. Without forceSuccess the
// consumer must be alive and own the shard, as SLS checks.
func (s *Server) updateCheckpoint(c *call, consumer string, force bool) *apiError {
	var body struct {
		Shard      *int   `json:"shard"`
		Checkpoint string `json:"checkpoint"`
	}
	if aerr := c.decodeJSON(&body); aerr != nil {
		return aerr
	}
	if body.Shard == nil {
		return errParameterInvalid("shard is required")
	}
	aerr := s.withGroup(c, func(ls *logstore, g *consumerGroup) *apiError {
		sh, aerr := ls.shard(*body.Shard)
		if aerr != nil {
			return newAPIError(http.StatusBadRequest, "ShardNotExsit", "shard %d does not exist", *body.Shard)
		}
		if pos, ok := decodeCursor(body.Checkpoint); !ok || pos > len(sh.entries) {
			return errInvalidCursor(body.Checkpoint)
		}
		if !force {
			g.expire(s.cfg.Now())
			m := g.members[consumer]
			if m == nil {
				return newAPIError(http.StatusBadRequest, "ConsumerNotExsit", "consumer %s does not exist", consumer)
			}
			if g.plan[sh.id] != consumer && !m.held[sh.id] {
				return newAPIError(http.StatusBadRequest, "ConsumerNotMatch", "shard %d is not held by consumer %s", sh.id, consumer)
			}
		}
		g.checkpoints[sh.id] = &checkpoint{cursor: body.Checkpoint, updated: s.cfg.Now(), consumer: consumer}
		return nil
	})
	if aerr != nil {
		return aerr
	}
	return writeJSON(c.w, nil)
}

// Checkpoint returns the stored checkpoint of a consumer group's shard, for
// tests that assert what a consumer committed.
func (s *Server) Checkpoint(project, logstore, group string, shard int) (cursor string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[project]
	if p == nil || p.logstores[logstore] == nil {
		return "", false
	}
	g := p.logstores[logstore].groups[group]
	if g == nil || g.checkpoints[shard] == nil {
		return "", false
	}
	return g.checkpoints[shard].cursor, true
}

// Holdings returns, for each live consumer of a group, the shards it holds:
// those its last heartbeat listed or was granted (sorted). For tests that
// watch a rebalance.
func (s *Server) Holdings(project, logstore, group string) map[string][]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]int{}
	p := s.projects[project]
	if p == nil || p.logstores[logstore] == nil {
		return out
	}
	g := p.logstores[logstore].groups[group]
	if g == nil {
		return out
	}
	g.expire(s.cfg.Now())
	for name, m := range g.members {
		ids := []int{}
		for id := range m.held {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		out[name] = ids
	}
	return out
}
