package rocketmq_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/state/rocketmq"
)

// TestSnapshotByAge: an idle cluster keeps writing fresh snapshots, so
// its state outlives the broker's deletion of old commit-log files; an
// empty one writes none.
func TestSnapshotByAge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster := clusterName(t)
	const age = rocketmq.MinMaxSnapshotAge
	a := openStore(t, rocketmq.Config{Cluster: cluster, SnapshotEvery: -1, MaxSnapshotAge: age, WorkerID: "a"})
	defer a.Close()

	time.Sleep(3 * age)
	if st := a.Stats(); st.SnapshotsWritten != 0 {
		t.Fatalf("a store with nothing to keep wrote snapshots: %+v", st)
	}

	if err := a.CommitOffsets(ctx, "orders", 1, map[string]api.Position{"p": api.Position("1")}); err != nil {
		t.Fatal(err)
	}
	var first rocketmq.Stats
	eventually(t, 15*time.Second, "a snapshot once the record is MaxSnapshotAge old", func() error {
		if first = a.Stats(); first.SnapshotsWritten == 0 {
			return fmt.Errorf("stats %+v", first)
		}
		return nil
	})
	// Nothing more is written, and still fresh snapshots follow.
	eventually(t, 15*time.Second, "snapshots of the idle cluster", func() error {
		if st := a.Stats(); st.SnapshotsWritten < first.SnapshotsWritten+2*3 {
			return fmt.Errorf("stats %+v, first snapshot at %+v", st, first)
		}
		return nil
	})
	if st := a.Stats(); st.Applied != 1 || st.Unsnapshotted != 0 {
		t.Errorf("stats %+v: want the one record applied and covered", st)
	}

	b := openStore(t, rocketmq.Config{Cluster: cluster, SnapshotEvery: -1, WorkerID: "b"})
	defer b.Close()
	if st := b.Stats(); st.SnapshotsLoaded != 3 || st.ReplayedAtOpen != 0 {
		t.Errorf("fresh store: %+v, want 3 snapshots and no tail", st)
	}
	if got, _ := b.Offsets(ctx, "orders"); string(got["p"]) != "1" {
		t.Errorf("offsets from the snapshot = %q", got)
	}
}

// openAdjusted opens a store on the test bed's broker that takes each
// queue's earliest stored offset to be what first says, given the
// broker's answer.
func openAdjusted(t *testing.T, cfg rocketmq.Config, first func(topic string, queueID int32, stored int64) int64) (*rocketmq.Store, error) {
	t.Helper()
	cfg.NameServers = []string{testbed.RocketMQ(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := rocketmq.OpenWithFirstOffsets(ctx, cfg, first)
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

// openFirst opens a store that takes queue queueID of topic to start at
// first (or the broker's answer, if later): the broker seems to have
// deleted the records below first by age.
func openFirst(t *testing.T, cfg rocketmq.Config, topic string, queueID int32, first int64) (*rocketmq.Store, error) {
	t.Helper()
	return openAdjusted(t, cfg, func(tp string, id int32, stored int64) int64 {
		if tp == topic && id == queueID {
			return max(stored, first)
		}
		return stored
	})
}

// TestLostRecordsAtOpen: a store refuses to start when the broker no longer
// has records that the newest snapshot does not cover, names them, and
// starts with AcceptLostRecords, after which starts are normal again.
// The deletion is simulated (OpenWithFirstOffsets); everything else is
// the test bed's broker.
func TestLostRecordsAtOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster := clusterName(t)
	cfg := rocketmq.Config{Cluster: cluster, SnapshotEvery: -1}
	offsets, config, snapshots := "ferry-"+cluster+"-offsets", "ferry-"+cluster+"-config", "ferry-"+cluster+"-snapshots"
	h := fnv.New32a()
	h.Write([]byte("orders"))
	q := int32(h.Sum32() % rocketmq.DefaultQueues) // where the commits of "orders" go

	a := openStore(t, cfg)
	if _, err := a.PutConnector(ctx, state.Connector{Name: "orders", Config: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	commit := func(from, to int) {
		for i := from; i < to; i++ {
			if err := a.CommitOffsets(ctx, "orders", 1, map[string]api.Position{fmt.Sprintf("p%02d", i): api.Position("x")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	commit(0, 10) // offsets 0-9 of queue q, covered by the snapshot
	if err := a.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	commit(10, 15) // 10-14: the tail
	a.Close()
	partitions := func(s *rocketmq.Store) []string {
		got, err := s.Offsets(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		return slices.Sorted(maps.Keys(got))
	}
	want := func(skip ...int) []string {
		var ps []string
		for i := range 15 {
			if !slices.Contains(skip, i) {
				ps = append(ps, fmt.Sprintf("p%02d", i))
			}
		}
		return ps
	}

	t.Run("deleted up to the snapshot", func(t *testing.T) {
		s, err := openFirst(t, cfg, offsets, q, 10)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if got := partitions(s); !slices.Equal(got, want()) {
			t.Errorf("partitions = %v, want %v", got, want())
		}
	})
	t.Run("deleted past the snapshot", func(t *testing.T) {
		_, err := openFirst(t, cfg, offsets, q, 12)
		if !errors.Is(err, rocketmq.ErrLostRecords) {
			t.Fatalf("Open: %v, want ErrLostRecords", err)
		}
		for _, s := range []string{fmt.Sprintf("topic %s queue ", offsets), fmt.Sprintf("/%d: the newest snapshot covers offsets below 10", q),
			"earliest stored offset is 12 (offsets 10-11 deleted)", "AcceptLostRecords"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error lacks %q: %v", s, err)
			}
		}
		t.Logf("Open: %v", err)
	})
	t.Run("no snapshot, beginning deleted", func(t *testing.T) {
		// The snapshot queue seems emptied and the config topic's first
		// record gone.
		_, err := openAdjusted(t, cfg, func(tp string, id int32, stored int64) int64 {
			switch tp {
			case snapshots:
				return 1 << 40
			case config:
				return max(stored, 1)
			}
			return stored
		})
		if !errors.Is(err, rocketmq.ErrLostRecords) || !strings.Contains(err.Error(), "topic "+config+" queue ") ||
			!strings.Contains(err.Error(), "no snapshot covers it but the broker's earliest stored offset is 1 (offsets 0-0 deleted)") {
			t.Fatalf("Open: %v, want ErrLostRecords naming %s", err, config)
		}
	})
	t.Run("accepted, then normal", func(t *testing.T) {
		accept := cfg
		accept.AcceptLostRecords = true
		s, err := openFirst(t, accept, offsets, q, 12)
		if err != nil {
			t.Fatalf("Open with AcceptLostRecords: %v", err)
		}
		if got := partitions(s); !slices.Equal(got, want(10, 11)) {
			t.Errorf("partitions = %v, want %v (10 and 11 lost)", got, want(10, 11))
		}
		if st := s.Stats(); st.SnapshotsWritten != 3 {
			t.Errorf("stats %+v: want a snapshot of each kind written at Open", st)
		}
		s.Close()
		// The same deletion no longer matters: the new snapshot covers it.
		s, err = openFirst(t, cfg, offsets, q, 12)
		if err != nil {
			t.Fatalf("Open after the accepted loss: %v", err)
		}
		if st := s.Stats(); st.SnapshotsLoaded != 3 || st.ReplayedAtOpen != 0 {
			t.Errorf("stats %+v: want 3 snapshots and no tail", st)
		}
		if got := partitions(s); !slices.Equal(got, want(10, 11)) {
			t.Errorf("partitions = %v, want %v", got, want(10, 11))
		}
		if c, err := s.Connector(ctx, "orders"); err != nil || c.Config["k"] != "v" {
			t.Errorf("connector = %+v, %v", c, err)
		}
	})
}
