package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/cluster"
)

// TestClusterLogLevelWithoutLeader: a cluster-scoped level needs no
// leader (the worker writes the register itself) and is applied on the
// worker before SetClusterLogLevel returns; a worker not given Loggers
// refuses rather than claim a level it cannot apply, and a name no
// logger can have is ErrBadRequest. Neither writes the register.
func TestClusterLogLevelWithoutLeader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newMemCluster()
	newWorker := func(id string, levels *worker.LogLevels) *worker.Distributed {
		mem, err := cluster.NewMembership(cluster.MembershipConfig{
			Name: id, BindAddr: "127.0.0.1", Label: "alone", Logger: slog.New(slog.DiscardHandler),
			Meta: cluster.Meta{WorkerID: id, RESTURL: "http://" + loopbackAddr(t)},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = mem.Close() })
		w, err := worker.NewDistributed(worker.DistributedConfig{
			Config:  worker.Config{WorkerID: id, Store: st, Registry: newHerdFakes().registry(), Logger: slog.New(slog.DiscardHandler)},
			Cluster: st, Membership: mem, Peer: peers(nil, id), Loggers: levels,
		})
		if err != nil {
			t.Fatal(err)
		}
		return w // never Run: no leader
	}

	bare := newWorker("w-bare", nil)
	if err := bare.SetClusterLogLevel(ctx, "root", slog.LevelDebug); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("without Loggers: %v, want ErrNotFound", err)
	}
	levels := worker.NewLogLevels(slog.LevelInfo)
	w := newWorker("w-alone", levels)
	for _, bad := range []string{"", "a\x00b", "\xff", strings.Repeat("n", 201), " root", "a/b", ".."} {
		if err := w.SetClusterLogLevel(ctx, bad, slog.LevelDebug); !errors.Is(err, worker.ErrBadRequest) {
			t.Errorf("logger %.20q: %v, want ErrBadRequest", bad, err)
		}
	}
	if _, ver, _ := st.Register(ctx, "loggers"); ver != 0 {
		t.Fatalf("refused calls wrote the loggers register (version %d)", ver)
	}
	start := time.Now()
	if err := w.SetClusterLogLevel(ctx, "ferry.runtime", worker.LevelTrace); err != nil {
		t.Fatalf("without a leader: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v: waited for a leader?", took)
	}
	if got := levels.Level("ferry.runtime.sub"); got.Level != worker.LevelTrace || got.LastModified == nil {
		t.Errorf("not applied on return: %+v", got)
	}
}
