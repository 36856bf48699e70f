package rocketmq

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ferryhq/ferry/api"
)

func msgOf(part string, next int64) message {
	return message{part: part, next: next, mapped: true}
}

// TestAddSyncBounded: after a million syncs one source position apart the
// list holds at most maxSyncs, keeps the first and the newest, stays in
// order, and for a consumer d offsets behind the newest finds a sync at
// most about 4d behind the consumer (exact at the head).
func TestAddSyncBounded(t *testing.T) {
	t.Parallel()
	var syncs []api.PositionSync
	const n = 1_000_000
	for i := int64(1); i <= n; i++ {
		syncs = addSync(syncs, api.PositionSync{Next: i, Offset: 10 * i})
		if len(syncs) > maxSyncs {
			t.Fatalf("after %d syncs: %d kept, want at most %d", i, len(syncs), maxSyncs)
		}
	}
	if syncs[0].Next != 1 || syncs[len(syncs)-1].Next != n {
		t.Fatalf("first %v, newest %v; want Next 1 and %d", syncs[0], syncs[len(syncs)-1], n)
	}
	if !slices.IsSortedFunc(syncs, func(a, b api.PositionSync) int { return int(a.Next - b.Next) }) {
		t.Fatalf("not in order: %v", syncs)
	}
	for _, d := range []int64{0, 1, 2, 3, 10, 100, 1000, 65_536, 500_000, n - 2} {
		c := n - d
		var best int64 = -1
		for _, s := range syncs {
			if s.Next <= c {
				best = s.Next
			}
		}
		if best < 0 || c-best > 4*d+1 {
			t.Errorf("consumer at %d (%d behind): nearest sync at or before is %d", c, d, best)
		}
	}
}

// TestAddSyncBackwards: a sync behind the newest drops all but the first.
func TestAddSyncBackwards(t *testing.T) {
	t.Parallel()
	var syncs []api.PositionSync
	for i := int64(10); i <= 20; i++ {
		syncs = addSync(syncs, api.PositionSync{Next: i, Offset: i})
	}
	syncs = addSync(syncs, api.PositionSync{Next: 15, Offset: 30})
	want := []api.PositionSync{{Next: 10, Offset: 10}, {Next: 15, Offset: 30}}
	if !slices.Equal(syncs, want) {
		t.Errorf("got %v, want %v", syncs, want)
	}
}

// TestSyncMapSends walks the map through sends: pending entries before
// the send, a partition's first and last records as syncs, a failed send
// leaving its entry pending, a send to a queue the producer picks, From
// from the committed position or the first record, positions that are not
// offsets left out, and the bound on targets.
func TestSyncMapSends(t *testing.T) {
	t.Parallel()
	m := newSyncMap(map[string]api.Position{"s/b/0": api.Position("100"), "s/b/9": api.Position("x")})
	batch := []message{msgOf("s/b/0", 101), msgOf("s/b/1", 51), msgOf("s/b/0", 103), {part: "file", mapped: false}, msgOf("s/b/0", 104), msgOf("s/b/1", 52)}
	m.sending("t/b/2", batch)
	got := m.snapshot()
	if len(got) != 2 || len(got[0].Targets) != 1 || got[0].Targets[0].Target != "t/b/2" || got[0].Targets[0].Syncs != nil {
		t.Fatalf("before the send returns: %+v; want pending entries", got)
	}
	if tr := api.TranslateOffsets(got, nil, map[string]int64{"s/b/0": 101}); tr.Targets["t/b/2"] != 0 || len(tr.Unknown) != 1 || tr.Unknown[0].Target != "t/b/2" {
		t.Fatalf("translation while the first send is in flight: %+v; want t/b/2 unknown", tr)
	}
	m.done("t/b/2", batch, true, "t/b/2", 1000)
	got = m.snapshot()
	want := []api.PartitionMap{
		{Partition: "s/b/0", From: 100, Targets: []api.TargetSyncs{{Target: "t/b/2", Syncs: []api.PositionSync{{Next: 101, Offset: 1000}, {Next: 104, Offset: 1004}}}}},
		{Partition: "s/b/1", From: 50, Targets: []api.TargetSyncs{{Target: "t/b/2", Syncs: []api.PositionSync{{Next: 51, Offset: 1001}, {Next: 52, Offset: 1005}}}}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the send:\n got %+v\nwant %+v", got, want)
	}

	// The sends of one Write register their records in any order: From
	// is the lowest.
	early := []message{msgOf("s/b/1", 41)}
	m.sending("t/b/2", early)
	if got := m.snapshot(); got[1].From != 40 {
		t.Fatalf("from after an earlier record registered: %d, want 40", got[1].From)
	}
	m.done("t/b/2", early, false, "", 0)

	// A failed send to a new queue stays pending; its resend fills it.
	next := []message{msgOf("s/b/0", 110)}
	m.sending("t/b/3", next)
	m.done("t/b/3", next, false, "", 0)
	if got := m.snapshot(); len(got[0].Targets) != 2 || got[0].Targets[1].Syncs != nil {
		t.Fatalf("after a failed send: %+v; want t/b/3 pending", got[0])
	}
	m.sending("t/b/3", next)
	m.done("t/b/3", next, true, "t/b/3", 7)
	if got := m.snapshot(); fmt.Sprint(got[0].Targets[1]) != fmt.Sprint(api.TargetSyncs{Target: "t/b/3", Syncs: []api.PositionSync{{Next: 110, Offset: 7}}}) {
		t.Fatalf("after the resend: %+v", got[0].Targets[1])
	}

	// A send whose queue the producer picks makes every target unknown
	// until it returns, then lands where it says.
	pick := []message{msgOf("s/b/1", 60)}
	m.sending("", pick)
	if got := m.snapshot(); got[1].Targets[0].Target != "" {
		t.Fatalf("during a send to an unknown queue: %+v; want a target \"\" first", got[1])
	}
	if tr := api.TranslateOffsets(m.snapshot(), nil, map[string]int64{"s/b/1": 60}); len(tr.Targets) != 0 {
		t.Fatalf("translation during a send to an unknown queue: %+v; want nothing", tr)
	}
	m.done("", pick, true, "t/b/5", 40)
	if got := m.snapshot(); len(got[1].Targets) != 2 || got[1].Targets[1].Target != "t/b/5" || got[1].Targets[1].Syncs[0] != (api.PositionSync{Next: 60, Offset: 40}) {
		t.Fatalf("after it: %+v", got[1])
	}

	// Too many targets: the partition is unknown for good.
	for i := range maxTargetsPerPartition + 1 {
		one := []message{msgOf("s/b/7", int64(i+1))}
		q := fmt.Sprintf("t/b/%d", i)
		m.sending(q, one)
		m.done(q, one, true, q, 0)
	}
	for _, pm := range m.snapshot() {
		if pm.Partition == "s/b/7" && (len(pm.Targets) != maxTargetsPerPartition+1 || pm.Targets[0].Target != "") {
			t.Fatalf("over the bound: %d targets, first %q; want %d and \"\"", len(pm.Targets), pm.Targets[0].Target, maxTargetsPerPartition+1)
		}
	}
}

// TestParseNext: only plain decimal offsets are mapped.
func TestParseNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"0": 0, "42": 42, "999999999999999999": 999999999999999999} {
		if n, ok := parseNext(api.Position(in)); !ok || n != want {
			t.Errorf("parseNext(%q) = %d %v", in, n, ok)
		}
	}
	for _, in := range []string{"", "-1", "1e3", " 1", "0x10", "9999999999999999999", "mysql-bin.000001:4"} {
		if _, ok := parseNext(api.Position(in)); ok {
			t.Errorf("parseNext(%q) accepted", in)
		}
	}
}

// copyAt is a source message's copy in a target queue.
type copyAt struct {
	part string
	off  int64
}

// TestTranslateNeverSkips simulates the sink replicating 4 source queues
// by key into 3 target queues through the map — batches, sends that fail
// (stored or not) and are resent, a filter skipping messages, commits and
// task restarts that replay the uncommitted tail — and translates random
// consumer offsets at random moments, also between a send's store and its
// answer. Afterwards every message at or after a consumer's offset must
// have a copy at or after the translated offset of its target queue (the
// queue's end read before translating when the answer names no offset),
// unless the answer says the queue is unknown.
func TestTranslateNeverSkips(t *testing.T) {
	t.Parallel()
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { simulateReplication(t, rand.New(rand.NewPCG(seed, 7))) })
	}
}

func simulateReplication(t *testing.T, rng *rand.Rand) {
	parts := []string{"s/b/0", "s/b/1", "s/b/2", "s/b/3"}
	targets := []string{"t/b/0", "t/b/1", "t/b/2"}
	const perPart = 400
	// Message o of a partition: key, or -1 when the filter drops it.
	keyOf := map[string][]int{}
	for _, p := range parts {
		for range perPart {
			k := rng.IntN(12)
			if rng.IntN(10) == 0 {
				k = -1
			}
			keyOf[p] = append(keyOf[p], k)
		}
	}
	logs := map[string][]copyAt{}
	committed := map[string]int64{}
	type snap struct {
		consumer map[string]int64
		ends     map[string]int64
		tr       api.OffsetTranslation
	}
	var snaps []snap
	m := newSyncMap(nil)
	read := map[string]int64{}
	translate := func() {
		c := map[string]int64{}
		for _, p := range parts {
			c[p] = max(0, read[p]+1-rng.Int64N(60)) // mostly near the head, as a consumer that keeps up
		}
		ends := map[string]int64{}
		for _, q := range targets {
			ends[q] = int64(len(logs[q]))
		}
		cm := map[string]int64{}
		for p, v := range committed {
			cm[p] = v
		}
		snaps = append(snaps, snap{c, ends, api.TranslateOffsets(m.snapshot(), cm, c)})
	}
	for round := 0; ; round++ {
		// A batch: up to 20 records from each partition, in order.
		var batch []message
		var keys []int
		for _, p := range parts {
			for n := rng.IntN(20); n > 0 && read[p] < perPart; {
				o := read[p]
				read[p]++
				if keyOf[p][o] < 0 {
					continue // filtered: the next record's position passes it
				}
				for read[p] < perPart && keyOf[p][read[p]] < 0 && rng.IntN(2) == 0 {
					read[p]++ // the pull scanned past filtered messages
				}
				batch = append(batch, msgOf(p, read[p]))
				keys = append(keys, keyOf[p][o]*1000+int(o)) // key and offset
				n--
			}
		}
		if len(batch) == 0 {
			if slices.ContainsFunc(parts, func(p string) bool { return read[p] < perPart }) {
				continue
			}
			break
		}
		// Group by target queue, in order, and send each group in chunks.
		for qi, q := range targets {
			var group []message
			var offs []int
			for i, mm := range batch {
				if (keys[i]/1000)%len(targets) == qi {
					group = append(group, mm)
					offs = append(offs, keys[i]%1000)
				}
			}
			for len(group) > 0 {
				n := min(len(group), 1+rng.IntN(5))
				chunk := group[:n]
				for {
					m.sending(q, chunk)
					if rng.IntN(15) == 0 {
						translate()
					}
					stored := rng.IntN(8) != 0
					base := int64(len(logs[q]))
					if stored {
						for i, mm := range chunk {
							logs[q] = append(logs[q], copyAt{mm.part, int64(offs[i])})
						}
					}
					if rng.IntN(15) == 0 {
						translate() // stored, the answer not back yet
					}
					ok := stored && rng.IntN(6) != 0 // a timeout after the store
					m.done(q, chunk, ok, q, base)
					if ok {
						break
					}
				}
				group, offs = group[n:], offs[n:]
			}
		}
		// Commit the whole batch now and then; restart now and then.
		if rng.IntN(3) == 0 {
			for _, mm := range batch {
				committed[mm.part] = max(committed[mm.part], mm.next)
			}
		}
		if rng.IntN(10) == 0 {
			pos := map[string]api.Position{}
			for p, v := range committed {
				pos[p] = api.Position(fmt.Sprint(v))
			}
			m = newSyncMap(pos)
			for _, p := range parts {
				read[p] = committed[p]
			}
		}
		if rng.IntN(4) == 0 {
			translate()
		}
	}
	translated := 0
	for _, s := range snaps {
		if len(s.tr.Targets) > 0 {
			translated++
		}
		all := slices.ContainsFunc(s.tr.Unknown, func(u api.Untranslated) bool { return u.Target == "" })
		for qi, q := range targets {
			if all || slices.ContainsFunc(s.tr.Unknown, func(u api.Untranslated) bool { return u.Target == q }) {
				continue
			}
			start, ok := s.tr.Targets[q]
			if !ok {
				start = s.ends[q]
			}
			for _, p := range parts {
				for o := s.consumer[p]; o < perPart; o++ {
					k := keyOf[p][o]
					if k < 0 || k%len(targets) != qi {
						continue
					}
					if !slices.ContainsFunc(logs[q][start:], func(c copyAt) bool { return c == copyAt{p, o} }) {
						t.Fatalf("consumer %v, answer %+v: %s offset %d has no copy in %s at or after %d (copies at %v)",
							s.consumer, s.tr, p, o, q, start, indexes(logs[q], copyAt{p, o}))
					}
				}
			}
		}
	}
	if translated < len(snaps)/4 {
		t.Errorf("only %d of %d translations named an offset", translated, len(snaps))
	}
}

func indexes(log []copyAt, c copyAt) []int {
	var out []int
	for i, x := range log {
		if x == c {
			out = append(out, i)
		}
	}
	return out
}
