package apitest

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
)

// keyOrderKeys and keyOrderPerKey shape the keyed-order check: records of
// eight keys interleaved, written in keyOrderBatches batches.
const (
	keyOrderKeys    = 8
	keyOrderPerKey  = 25
	keyOrderBatches = 4
)

// KeyedRecords returns keys×perKey records with JSON data, ids
// "<run>-<i>", decimal positions and keys "k<i mod keys>", interleaved so
// that consecutive records have different keys: the input of a per-key
// order check.
func KeyedRecords(run string, keys, perKey int) []api.Record {
	recs := Records(run, keys*perKey)
	for i := range recs {
		recs[i].Key = []byte("k" + strconv.Itoa(i%keys))
	}
	return recs
}

// sinkKeyOrder writes interleaved keyed records in several batches and
// checks, with c.KeyedOrder, that the sink holds each key's records in
// the order they were written: the first time each id appears, per key,
// follows the write order (a replay after it is allowed: at-least-once).
func sinkKeyOrder(t *testing.T, c SinkCase) {
	run := "keyed-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	recs := KeyedRecords(run, keyOrderKeys, keyOrderPerKey)
	written := map[string]int{} // id → index in write order
	keyOf := map[string]string{}
	for i, r := range recs {
		written[r.Event.ID] = i
		keyOf[r.Event.ID] = string(r.Key)
	}
	s := openSink(t, c)
	per := (len(recs) + keyOrderBatches - 1) / keyOrderBatches
	for from := 0; from < len(recs); from += per {
		writeFlush(t, s, recs[from:min(from+per, len(recs))])
	}
	got := c.KeyedOrder(t)
	closeSink(t, s, t.Context())

	seen := map[string]bool{}
	last := map[string]int{} // key → write index of its last new record
	count := 0
	for _, r := range got {
		id := r.Event.ID
		i, ours := written[id]
		if !ours || !strings.HasPrefix(id, run+"-") || seen[id] {
			continue
		}
		seen[id] = true
		count++
		k := keyOf[id]
		if prev, ok := last[k]; ok && i < prev {
			t.Errorf("key %s: record %s (written %dth) is held after %s (written %dth): the sink reordered a key", k, id, i, recs[prev].Event.ID, prev)
		}
		last[k] = max(last[k], i)
	}
	if count != len(recs) {
		t.Errorf("the sink holds %d of the %d keyed records written", count, len(recs))
	}
}
