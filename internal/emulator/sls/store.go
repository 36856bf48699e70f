package sls

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"
)

// The types below are the emulated state. All of it is guarded by Server.mu.

type project struct {
	name        string
	description string
	created     time.Time
	modified    time.Time
	logstores   map[string]*logstore
}

type logstore struct {
	name          string
	ttl           int
	autoSplit     bool
	maxSplitShard int
	created       time.Time
	modified      time.Time
	shards        []*shard
	nextShard     int // round-robin pointer for writes without a hash key
	groups        map[string]*consumerGroup
}

type shard struct {
	id         int
	beginKey   string // inclusive, 32 lowercase hex digits
	endKey     string // exclusive; "" for the last shard means 2^128
	created    time.Time
	readOnly   bool // split or merged: readable, no longer written
	entries    []entry
	lastRecvAt int64
}

// entry is one stored log group: its bytes as received and its receive time
// in unix seconds (kept non-decreasing per shard so a time maps to a cursor
// by binary search).
type entry struct {
	raw      []byte
	received int64
}

// newShards splits the MD5 key space [0, 2^128) into n equal ranges, as SLS
// lays out the shards of a new logstore.
func newShards(n int, now time.Time) []*shard {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	out := make([]*shard, n)
	for i := range out {
		begin := new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i))), big.NewInt(int64(n)))
		end := new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i+1))), big.NewInt(int64(n)))
		out[i] = &shard{id: i, beginKey: hexKey(begin), endKey: hexKey(end), created: now}
	}
	return out
}

// hexKey renders a key as 32 hex digits. 2^128, the end of the last shard,
// does not fit; SLS shows it as 32 f's, and so does the emulator.
func hexKey(k *big.Int) string {
	s := fmt.Sprintf("%032x", k)
	if len(s) > 32 {
		return strings.Repeat("f", 32)
	}
	return s
}

// normalizeHashKey turns a route key into 32 lowercase hex digits (shorter
// keys are the high digits of the key, as SLS reads them) or reports false.
func normalizeHashKey(k string) (string, bool) {
	if k == "" || len(k) > 32 {
		return "", false
	}
	k = strings.ToLower(k)
	for _, r := range k {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return "", false
		}
	}
	return k + strings.Repeat("0", 32-len(k)), true
}

// maxKey is how the end of the key space, 2^128, is shown.
var maxKey = strings.Repeat("f", 32)

// shardFor returns the read-write shard whose range holds key
// (normalized). The last range is closed at the top so the all-f key has
// a home.
func (ls *logstore) shardFor(key string) *shard {
	var last *shard
	for _, sh := range ls.shards {
		if sh.readOnly {
			continue
		}
		if key >= sh.beginKey && (key < sh.endKey || sh.endKey == maxKey) {
			return sh
		}
		last = sh
	}
	return last
}

// nextWritable returns the read-write shard whose turn it is to take a
// write without a hash key.
func (ls *logstore) nextWritable() *shard {
	for {
		sh := ls.shards[ls.nextShard%len(ls.shards)]
		ls.nextShard++
		if !sh.readOnly {
			return sh
		}
	}
}

func (ls *logstore) shard(id int) (*shard, *apiError) {
	if id < 0 || id >= len(ls.shards) {
		return nil, errShardNotExist(id)
	}
	return ls.shards[id], nil
}

func (ls *logstore) shardIDs() []int {
	ids := make([]int, len(ls.shards))
	for i, sh := range ls.shards {
		ids[i] = sh.id
	}
	return ids
}

// appendEntry stores one log group received at now.
func (sh *shard) appendEntry(raw []byte, now time.Time) {
	t := now.Unix()
	if t < sh.lastRecvAt {
		t = sh.lastRecvAt
	}
	sh.lastRecvAt = t
	sh.entries = append(sh.entries, entry{raw: raw, received: t})
}

// cursorAt returns the position of the first log group received at or after
// unix second t (the end if none).
func (sh *shard) cursorAt(t int64) int {
	return sort.Search(len(sh.entries), func(i int) bool { return sh.entries[i].received >= t })
}

// lookupProject finds a project, creating it when the server creates on
// first use and create is true.
func (s *Server) lookupProject(name string, create bool) (*project, *apiError) {
	if name == "" {
		return nil, errProjectNotExist(name)
	}
	if p, ok := s.projects[name]; ok {
		return p, nil
	}
	if !create || s.cfg.RequireCreate {
		return nil, errProjectNotExist(name)
	}
	return s.addProject(name, ""), nil
}

func (s *Server) addProject(name, description string) *project {
	now := s.cfg.Now()
	p := &project{name: name, description: description, created: now, modified: now, logstores: make(map[string]*logstore)}
	s.projects[name] = p
	return p
}

// lookupLogstore finds a logstore, creating it (and its project) on first
// use unless the server requires creation.
func (s *Server) lookupLogstore(projectName, name string) (*logstore, *apiError) {
	p, aerr := s.lookupProject(projectName, true)
	if aerr != nil {
		return nil, aerr
	}
	if ls, ok := p.logstores[name]; ok {
		return ls, nil
	}
	if s.cfg.RequireCreate {
		return nil, errLogStoreNotExist(name)
	}
	return s.addLogstore(p, name, 30, s.cfg.ShardCount), nil
}

func (s *Server) addLogstore(p *project, name string, ttl, shards int) *logstore {
	now := s.cfg.Now()
	ls := &logstore{
		name: name, ttl: ttl, created: now, modified: now,
		shards: newShards(shards, now),
		groups: make(map[string]*consumerGroup),
	}
	p.logstores[name] = ls
	return ls
}
