package sls_test

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/emulator/sls"
)

// TestSplitMerge: a split turns the shard read-only and two new shards
// take its range; a merge does the same for two neighbours. Read-only
// shards keep their logs readable to the end and take no more writes;
// hash keys and unkeyed writes land on read-write shards only.
func TestSplitMerge(t *testing.T) {
	t.Parallel()
	srv := startServer(t, sls.Config{ShardCount: 2})
	c := newClient(t, srv, testSecret)
	if err := c.PutLogs("p", "s", sdkGroup("t", "before", 3)); err != nil { // shard 0
		t.Fatal(err)
	}
	shards, err := c.SplitShard("p", "s", 0, "4")
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		id           int
		status, b, e string
	}
	got := func() []view {
		t.Helper()
		list, err := c.ListShards("p", "s")
		if err != nil {
			t.Fatal(err)
		}
		var out []view
		for _, sh := range list {
			out = append(out, view{sh.ShardID, sh.Status, sh.InclusiveBeginKey[:2], sh.ExclusiveBeginKey[:2]})
		}
		return out
	}
	if len(shards) != 3 || shards[0].ShardID != 0 || shards[0].Status != "readonly" || shards[1].ShardID != 2 || shards[2].ShardID != 3 {
		t.Fatalf("split answered %+v, want shard 0 read-only then new shards 2 and 3", shards)
	}
	want := []view{{0, "readonly", "00", "80"}, {1, "readwrite", "80", "ff"}, {2, "readwrite", "00", "40"}, {3, "readwrite", "40", "80"}}
	if g := got(); !equalViews(g, want) {
		t.Fatalf("after split: %v, want %v", g, want)
	}
	// The read-only shard still serves its logs, and its end stays put.
	cursor, err := c.GetCursor("p", "s", 0, "begin")
	if err != nil {
		t.Fatal(err)
	}
	gl, next, err := c.PullLogs("p", "s", 0, cursor, "", 100)
	if err != nil || len(gl.LogGroups) != 1 {
		t.Fatalf("pull read-only shard: %v groups, err %v", gl, err)
	}
	if gl2, next2, err := c.PullLogs("p", "s", 0, next, "", 100); err != nil || len(gl2.LogGroups) != 0 || next2 != next {
		t.Fatalf("pull at the read-only end: %d groups, next %q (want %q), err %v", len(gl2.LogGroups), next2, next, err)
	}
	// Writes skip it: unkeyed ones take turns over the read-write shards,
	// keyed ones land in the new range.
	for range 6 {
		if err := c.PutLogs("p", "s", sdkGroup("t", "after", 1)); err != nil {
			t.Fatal(err)
		}
	}
	key := "5" + strings.Repeat("0", 31)
	if err := c.PostLogStoreLogs("p", "s", sdkGroup("t", "keyed", 1), &key); err != nil {
		t.Fatal(err)
	}
	counts := map[int]int{}
	for id := range 4 {
		groups, err := srv.LogGroups("p", "s", id)
		if err != nil {
			t.Fatal(err)
		}
		counts[id] = len(groups)
	}
	if counts[0] != 1 || counts[1]+counts[2]+counts[3] != 7 || counts[3] < 3 {
		t.Fatalf("log groups per shard %v: want 1 in read-only shard 0, 7 in the others, the keyed one in 3", counts)
	}
	if err := srv.Put("p", "s", 0, sls.LogGroup{Logs: []sls.Log{{Time: 1}}}); err == nil || !strings.Contains(err.Error(), "ShardReadOnly") {
		t.Fatalf("Put to a read-only shard = %v, want ShardReadOnly", err)
	}

	// Merge 2 with its neighbour 3.
	shards, err = c.MergeShards("p", "s", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != 3 || shards[2].ShardID != 4 {
		t.Fatalf("merge answered %+v, want new shard 4 last", shards)
	}
	want = []view{{0, "readonly", "00", "80"}, {1, "readwrite", "80", "ff"}, {2, "readonly", "00", "40"}, {3, "readonly", "40", "80"}, {4, "readwrite", "00", "80"}}
	if g := got(); !equalViews(g, want) {
		t.Fatalf("after merge: %v, want %v", g, want)
	}

	for name, call := range map[string]func() error{
		"split read-only":       func() error { _, err := c.SplitShard("p", "s", 0, "2"); return err },
		"split outside range":   func() error { _, err := c.SplitShard("p", "s", 1, "4"); return err },
		"split at range begin":  func() error { _, err := c.SplitShard("p", "s", 1, "8"); return err },
		"split bad key":         func() error { _, err := c.SplitShard("p", "s", 1, "xyz"); return err },
		"split by count":        func() error { _, err := c.SplitNumShard("p", "s", 1, 3); return err },
		"merge last range":      func() error { _, err := c.MergeShards("p", "s", 1); return err },
		"merge missing shard":   func() error { _, err := c.MergeShards("p", "s", 9); return err },
		"merge read-only shard": func() error { _, err := c.MergeShards("p", "s", 2); return err },
	} {
		if err := call(); err == nil {
			t.Errorf("%s succeeded", name)
		}
	}
}

func equalViews[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
