package rocketmq_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/state/rocketmq"
	"github.com/ferryhq/ferry/state/storetest"
)

// clusterName is unique per call, so tests never share topics.
func clusterName(t *testing.T) string {
	n := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	if len(n) > 60 {
		n = n[len(n)-60:]
	}
	return fmt.Sprintf("t%x-%s", rand.Uint32(), strings.Trim(n, "-"))
}

func openStore(t *testing.T, cfg rocketmq.Config) *rocketmq.Store {
	t.Helper()
	cfg.NameServers = []string{testbed.RocketMQ(t)}
	if cfg.WorkerID == "" {
		cfg.WorkerID = "w-" + t.Name()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := rocketmq.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) state.Store {
		return openStore(t, rocketmq.Config{Cluster: clusterName(t)})
	})
}

func TestDurable(t *testing.T) {
	t.Parallel()
	// dir is the cluster name: a reopen is a new Store on the same topics.
	clusters := map[string]string{}
	storetest.RunDurable(t, func(t *testing.T, dir string) state.Store {
		if clusters[dir] == "" {
			clusters[dir] = clusterName(t)
		}
		return openStore(t, rocketmq.Config{Cluster: clusters[dir]})
	})
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTwoWorkersConverge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster := clusterName(t)
	a := openStore(t, rocketmq.Config{Cluster: cluster, WorkerID: "a", InstanceName: "worker-a"})
	defer a.Close()
	b := openStore(t, rocketmq.Config{Cluster: cluster, WorkerID: "b", InstanceName: "worker-b"})
	defer b.Close()
	changes, cancel := b.Subscribe()
	defer cancel()

	ca, err := a.PutConnector(ctx, state.Connector{Name: "orders", Config: map[string]string{"source": "generator"}, Target: state.TargetRunning})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "b sees a's connector", func() error {
		got, err := b.Connector(ctx, "orders")
		if err != nil {
			return err
		}
		if got.Revision != ca.Revision || got.Config["source"] != "generator" || !got.Created.Equal(ca.Created) {
			return fmt.Errorf("b has %+v, a wrote %+v", got, ca)
		}
		return nil
	})
	select {
	case c := <-changes:
		if c.Kind != rocketmq.ChangeConnector || c.Connector != "orders" || c.Writer != "a" {
			t.Errorf("b's subscriber got %+v, want connector orders written by a", c)
		}
	case <-time.After(5 * time.Second):
		t.Error("b's subscriber got no change")
	}

	// b replaces it: the revisions interleave in one total order.
	cb, err := b.PutConnector(ctx, state.Connector{Name: "orders", Config: map[string]string{"source": "kafka"}})
	if err != nil {
		t.Fatal(err)
	}
	if cb.Revision <= ca.Revision || !cb.Created.Equal(ca.Created) {
		t.Errorf("b's replace = rev %d created %v, want > %d and created %v", cb.Revision, cb.Created, ca.Revision, ca.Created)
	}

	// Fencing across workers: b's task at generation 2 owns partition p;
	// a's zombie task at generation 1 is fenced once a has seen it, and a
	// record a wrote before seeing it is fenced when applied, everywhere.
	if err := b.CommitOffsets(ctx, "orders", 2, map[string]api.Position{"p": api.Position("b2")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a is fenced by b's generation", func() error {
		err := a.CommitOffsets(ctx, "orders", 1, map[string]api.Position{"p": api.Position("a1")})
		if !errors.Is(err, state.ErrFenced) {
			return fmt.Errorf("a's commit at generation 1: err = %v, want ErrFenced", err)
		}
		return nil
	})
	if err := a.CommitOffsets(ctx, "orders", 3, map[string]api.Position{"p": api.Position("a3"), "q": api.Position("a3")}); err != nil {
		t.Fatal(err)
	}
	if err := a.PutStatus(ctx, state.Status{Connector: "orders", Task: 0, State: state.StateRunning, WorkerID: "a", Generation: 3}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*rocketmq.Store{a, b} {
		eventually(t, 10*time.Second, "both converge", func() error {
			offs, err := s.Offsets(ctx, "orders")
			if err != nil {
				return err
			}
			if string(offs["p"]) != "a3" || string(offs["q"]) != "a3" {
				return fmt.Errorf("offsets = %q", offs)
			}
			sts, err := s.Statuses(ctx, "orders")
			if err != nil {
				return err
			}
			if len(sts) != 1 || sts[0].WorkerID != "a" || sts[0].Generation != 3 {
				return fmt.Errorf("statuses = %+v", sts)
			}
			return nil
		})
	}
	if err := b.CommitOffsets(ctx, "orders", 2, map[string]api.Position{"q": api.Position("b2")}); !errors.Is(err, state.ErrFenced) {
		t.Errorf("b's old generation after a's newer commit: err = %v, want ErrFenced", err)
	}

	// Concurrent commits of two generations from two workers: whoever
	// writes what, both end with the newest generation's position.
	done := make(chan error, 2)
	for i, s := range []*rocketmq.Store{a, b} {
		go func() {
			for j := range 10 {
				gen := int64(4 + i) // a: 4, b: 5
				err := s.CommitOffsets(ctx, "orders", gen, map[string]api.Position{"r": api.Position(fmt.Sprintf("g%d-%d", gen, j))})
				if err != nil && !(errors.Is(err, state.ErrFenced) && gen == 4) {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// b's last commit at generation 5 is g5-9 and nothing can fence it.
	for _, s := range []*rocketmq.Store{a, b} {
		eventually(t, 10*time.Second, "concurrent fencing converges", func() error {
			offs, err := s.Offsets(ctx, "orders")
			if err != nil {
				return err
			}
			if got := string(offs["r"]); got != "g5-9" {
				return fmt.Errorf("r = %q, want g5-9", got)
			}
			return nil
		})
	}

	// A delete by a is seen by b.
	if err := a.DeleteConnector(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "b sees the delete", func() error {
		if _, err := b.Connector(ctx, "orders"); !errors.Is(err, state.ErrNotFound) {
			return fmt.Errorf("err = %v, want ErrNotFound", err)
		}
		if sts, _ := b.Statuses(ctx, "orders"); len(sts) != 0 {
			return fmt.Errorf("statuses = %+v, want none", sts)
		}
		return nil
	})
}

func TestSnapshotThenTail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster := clusterName(t)
	const every, total = 50, 130
	a := openStore(t, rocketmq.Config{Cluster: cluster, SnapshotEvery: every, WorkerID: "a"})
	defer a.Close()
	for i := range total {
		if err := a.CommitOffsets(ctx, "orders", 1, map[string]api.Position{fmt.Sprintf("p%d", i%7): api.Position(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.PutConnector(ctx, state.Connector{Name: "orders", Config: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	// The snapshotter runs after a random delay (under 500 ms) once a
	// topic kind has `every` records after its newest snapshot: wait until
	// it has written one and then nothing has changed for a second, so no
	// kind is due and the tail a fresh store must read is known.
	// (Unsnapshotted sums the kinds, so it alone cannot tell: 49 offset
	// records and 1 config record are 50 with nothing due.)
	var tail int64
	var last rocketmq.Stats
	lastChange := time.Now()
	eventually(t, 15*time.Second, "a writes a snapshot and settles", func() error {
		st := a.Stats()
		if st != last {
			last, lastChange = st, time.Now()
		}
		if st.SnapshotsWritten == 0 || time.Since(lastChange) < time.Second {
			return fmt.Errorf("stats %+v", st)
		}
		tail = st.Unsnapshotted
		return nil
	})
	// At most every-1 offset records and the one config record.
	if tail > every {
		t.Fatalf("the snapshotter settled with %d records unsnapshotted; some kind is due (every %d)", tail, every)
	}
	want, err := a.Offsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}

	b := openStore(t, rocketmq.Config{Cluster: cluster, SnapshotEvery: -1, WorkerID: "b"})
	defer b.Close()
	st := b.Stats()
	if st.SnapshotsLoaded == 0 {
		t.Fatalf("fresh store loaded no snapshot: %+v", st)
	}
	// The topics hold total+1 records; a fresh store reads only those
	// after the newest snapshots: exactly the writer's unsnapshotted tail.
	if st.ReplayedAtOpen != tail {
		t.Errorf("fresh store replayed %d records, want the %d after the snapshot (of %d written; stats %+v)", st.ReplayedAtOpen, tail, total+1, st)
	}
	got, err := b.Offsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("offsets from snapshot + tail = %q, want %q", got, want)
	}
	if c, err := b.Connector(ctx, "orders"); err != nil || c.Config["k"] != "v" {
		t.Errorf("connector from snapshot + tail = %+v, %v", c, err)
	}
	t.Logf("fresh store: %+v", st)

	// On demand, then a reopen replays nothing.
	if err := b.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	c := openStore(t, rocketmq.Config{Cluster: cluster, SnapshotEvery: -1, WorkerID: "c"})
	defer c.Close()
	if st := c.Stats(); st.SnapshotsLoaded != 3 || st.ReplayedAtOpen != 0 {
		t.Errorf("after an on-demand snapshot a fresh store has %+v, want 3 snapshots and no tail", st)
	}
	if got, _ := c.Offsets(ctx, "orders"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("offsets = %q, want %q", got, want)
	}
}

// TestSnapshotChunks writes a state bigger than one chunk (1 MiB) and
// restores it.
func TestSnapshotChunks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster := clusterName(t)
	a := openStore(t, rocketmq.Config{Cluster: cluster, SnapshotEvery: -1})
	defer a.Close()
	big := strings.Repeat("x", 200<<10)
	want := map[string]api.Position{}
	for i := range 12 { // ~2.4 MiB of positions, base64 in the snapshot: 3 chunks
		want[fmt.Sprintf("p%02d", i)] = api.Position(big + fmt.Sprint(i))
	}
	if err := a.CommitOffsets(ctx, "big", 1, want); err != nil {
		t.Fatal(err)
	}
	if err := a.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	b := openStore(t, rocketmq.Config{Cluster: cluster, SnapshotEvery: -1})
	defer b.Close()
	if st := b.Stats(); st.SnapshotsLoaded != 3 || st.ReplayedAtOpen != 0 {
		t.Errorf("stats = %+v, want 3 snapshots and no tail", st)
	}
	got, err := b.Offsets(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d partitions restored, want %d", len(got), len(want))
	}
	for p, pos := range want {
		if string(got[p]) != string(pos) {
			t.Errorf("partition %s: %d bytes restored, want %d", p, len(got[p]), len(pos))
		}
	}
}
