package sls

import (
	"net/http"
	"slices"
	"time"
)

// Shard split and merge (POST …/shards/{shard}?action=split&key=… and
// ?action=merge), as SLS does them: the shards split or merged become
// read-only (their logs stay readable, nothing more is written to them)
// and new read-write shards, numbered after the highest id, take over
// their key ranges. Both answer with the shards involved, the read-only
// ones first.

const (
	statusReadWrite = "readwrite"
	statusReadOnly  = "readonly"
)

func (s *Server) shardAction(c *call) *apiError {
	id, aerr := intParam("shard", c.r.PathValue("shard"))
	if aerr != nil {
		return aerr
	}
	q := c.r.URL.Query()
	var out []*shard
	s.mu.Lock()
	ls, aerr := s.lookupLogstore(c.project, c.r.PathValue("logstore"))
	if aerr == nil {
		switch q.Get("action") {
		case "split":
			out, aerr = ls.split(id, q.Get("key"), q.Get("shardCount"), s.cfg.Now)
		case "merge":
			out, aerr = ls.merge(id, s.cfg.Now)
		default:
			aerr = errParameterInvalid("action %q is not split or merge", q.Get("action"))
		}
	}
	var body []shardJSON
	for _, sh := range out {
		body = append(body, sh.json())
	}
	s.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return writeJSON(c.w, body)
}

// writable returns a read-write shard, or the error SLS gives for one
// that is not.
func (ls *logstore) writable(id int) (*shard, *apiError) {
	sh, aerr := ls.shard(id)
	if aerr != nil {
		return nil, aerr
	}
	if sh.readOnly {
		return nil, newAPIError(http.StatusBadRequest, "ShardReadOnly", "shard %d is read-only", id)
	}
	return sh, nil
}

// split divides shard id at key (1 to 32 hex digits, read as SLS reads a
// hash key, strictly inside the shard's range) into two new shards.
// Only the two-way split by key is emulated; shardCount is refused.
func (ls *logstore) split(id int, key, count string, now func() time.Time) ([]*shard, *apiError) {
	if count != "" {
		return nil, errParameterInvalid("split by shardCount is not supported by the emulator; give key")
	}
	sh, aerr := ls.writable(id)
	if aerr != nil {
		return nil, aerr
	}
	k, ok := normalizeHashKey(key)
	if !ok {
		return nil, errParameterInvalid("split key %q is not 1 to 32 hex digits", key)
	}
	if k <= sh.beginKey || (k >= sh.endKey && sh.endKey != maxKey) || k == maxKey {
		return nil, errParameterInvalid("split key %s is not inside shard %d's range [%s, %s)", k, id, sh.beginKey, sh.endKey)
	}
	t := now()
	a := ls.addShard(sh.beginKey, k, t)
	b := ls.addShard(k, sh.endKey, t)
	sh.readOnly = true
	return []*shard{sh, a, b}, nil
}

// merge joins shard id with the read-write shard whose range starts where
// id's ends into one new shard.
func (ls *logstore) merge(id int, now func() time.Time) ([]*shard, *apiError) {
	a, aerr := ls.writable(id)
	if aerr != nil {
		return nil, aerr
	}
	i := slices.IndexFunc(ls.shards, func(sh *shard) bool { return !sh.readOnly && sh.beginKey == a.endKey && a.endKey != maxKey })
	if i < 0 {
		return nil, errParameterInvalid("shard %d has no read-write neighbour after it to merge with", id)
	}
	b := ls.shards[i]
	m := ls.addShard(a.beginKey, b.endKey, now())
	a.readOnly, b.readOnly = true, true
	return []*shard{a, b, m}, nil
}

// addShard appends a read-write shard with the next id.
func (ls *logstore) addShard(begin, end string, now time.Time) *shard {
	sh := &shard{id: len(ls.shards), beginKey: begin, endKey: end, created: now}
	ls.shards = append(ls.shards, sh)
	return sh
}

func (sh *shard) json() shardJSON {
	status := statusReadWrite
	if sh.readOnly {
		status = statusReadOnly
	}
	return shardJSON{ShardID: sh.id, Status: status, InclusiveBeginKey: sh.beginKey,
		ExclusiveEndKey: sh.endKey, CreateTime: sh.created.Unix()}
}
