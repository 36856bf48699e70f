package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/worker"
)

// mapSink is the mem sink with a position map (api.PositionMapper): each
// task writes to its own target partition <path>/<task>, the n-th record
// at offset n, every record a sync.
type mapSink struct {
	herdSink
	target string
	mu     sync.Mutex
	n      int64
	maps   map[string]*api.PartitionMap
}

func (s *mapSink) Write(ctx context.Context, recs []api.Record) error {
	if err := s.herdSink.Write(ctx, recs); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maps == nil {
		s.maps = map[string]*api.PartitionMap{}
	}
	for _, r := range recs {
		pos, err := strconv.ParseInt(string(r.Position), 10, 64)
		if err != nil {
			continue
		}
		next := pos + 1 // the counter's position is the record's own
		m := s.maps[r.Partition]
		if m == nil {
			m = &api.PartitionMap{Partition: r.Partition, From: next - 1, Targets: []api.TargetSyncs{{Target: s.target}}}
			s.maps[r.Partition] = m
		}
		m.Targets[0].Syncs = append(m.Targets[0].Syncs, api.PositionSync{Next: next, Offset: s.n})
		s.n++
	}
	return nil
}

func (s *mapSink) PositionMap() []api.PartitionMap {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []api.PartitionMap
	for _, m := range s.maps {
		c := *m
		c.Targets = []api.TargetSyncs{{Target: m.Targets[0].Target, Syncs: append([]api.PositionSync(nil), m.Targets[0].Syncs...)}}
		out = append(out, c)
	}
	return out
}

// withMapSink adds the sink "mapmem" (mapSink) to a worker's plugins.
func withMapSink(fakes *herdFakes) func(*worker.Config) {
	return func(c *worker.Config) {
		c.Registry.Sinks = append(c.Registry.Sinks, api.SinkPlugin{
			Name: "mapmem",
			Spec: api.Spec{{Name: "path", Type: api.TypeString, Required: true}},
			New: func(tc api.TaskConfig) (api.Sink, error) {
				path := tc.Config.String("path")
				return &mapSink{herdSink: herdSink{f: fakes, path: path}, target: path + "/" + strconv.Itoa(tc.Task)}, nil
			},
		})
	}
}

// TestStandalonePositionMaps: the running task's sink map is served with
// its task and worker, translations follow api.TranslateOffsets, and bad
// requests are refused.
func TestStandalonePositionMaps(t *testing.T) {
	t.Parallel()
	fakes := newHerdFakes()
	w := startHerd(t, fakes, nil, withMapSink(fakes))
	ctx := context.Background()
	if _, err := w.CreateConnector(ctx, "pm", with(baseConfig("pm"), "sink", "mapmem", "source.count", "0"), ""); err != nil {
		t.Fatal(err)
	}
	var maps worker.PositionMapsInfo
	eventually(t, "a map of the 50 records", func() bool {
		var err error
		maps, err = w.PositionMaps(ctx, "pm")
		if err != nil || len(maps.Partitions) != 1 {
			return false
		}
		s := maps.Partitions[0].Targets[0].Syncs
		return len(s) >= 50
	})
	m := maps.Partitions[0]
	if m.Partition != "p0" || m.Task != 0 || m.WorkerID != "127.0.0.1:8083" || m.From != 0 || m.Targets[0].Target != "pm-out/0" {
		t.Errorf("map %+v", m)
	}
	tr, err := w.TranslateOffsets(ctx, "pm", map[string]int64{"p0": 20})
	if err != nil || tr.Targets["pm-out/0"] != 20 || len(tr.Unknown) != 0 {
		t.Errorf("translate p0@20: %+v %v; want pm-out/0 at 20 (record 19 at offset 19 was consumed)", tr, err)
	}
	tr, err = w.TranslateOffsets(ctx, "pm", map[string]int64{"p0": 20, "other": 3})
	if err != nil || len(tr.Targets) != 0 || len(tr.Unknown) != 1 || tr.Unknown[0].Partition != "other" || tr.Unknown[0].Target != "" {
		t.Errorf("translate with a partition Ferry knows nothing of: %+v %v; want every target unknown", tr, err)
	}
	for name, offs := range map[string]map[string]int64{
		"none":     {},
		"negative": {"p0": -1},
		"too many": func() map[string]int64 {
			m := map[string]int64{}
			for i := range worker.MaxTranslateOffsets + 1 {
				m[fmt.Sprint(i)] = 0
			}
			return m
		}(),
	} {
		if _, err := w.TranslateOffsets(ctx, "pm", offs); !errors.Is(err, worker.ErrBadRequest) {
			t.Errorf("%s: %v; want ErrBadRequest", name, err)
		}
	}
	if _, err := w.PositionMaps(ctx, "nope"); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("unknown connector: %v", err)
	}
}

// TestDistributedPositionMapsFromEveryOwner: a connector whose two tasks
// run on two workers has both tasks' maps served by either worker, over
// REST too, and translated across both.
func TestDistributedPositionMapsFromEveryOwner(t *testing.T) {
	if testing.Short() {
		t.Skip("gossip on loopback takes seconds")
	}
	t.Parallel()
	fakes := newHerdFakes()
	nodes := startCluster(t, 2, func(_ int, c *worker.DistributedConfig) { withMapSink(fakes)(&c.Config) })
	eventually(t, "two members", func() bool {
		info, err := nodes[1].w.ClusterStatus(context.Background())
		return err == nil && len(info.Members) == 2 && info.Leader != ""
	})
	cfg := with(baseConfig("pmc"), "source", "planned", "source.count", "0", "tasks.max", "2", "sink", "mapmem")
	if code, body := postConnector(t, nodes[0].url, "pmc", cfg); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	eventually(t, "one task on each worker", func() bool {
		n := perWorker(owners(t, nodes[0].w, []string{"pmc"}))
		return n[nodes[0].id] == 1 && n[nodes[1].id] == 1
	})
	for _, n := range nodes {
		eventually(t, "both tasks' maps through "+n.id, func() bool {
			resp, err := http.Get(n.url + "/connectors/pmc/offsets/mapping")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var info worker.PositionMapsInfo
			if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&info) != nil || len(info.Partitions) != 2 || len(info.Unreached) != 0 {
				return false
			}
			workers := map[string]bool{}
			for _, p := range info.Partitions {
				workers[p.WorkerID] = true
				if len(p.Targets) != 1 || len(p.Targets[0].Syncs) < 30 {
					return false
				}
			}
			return len(workers) == 2
		})
		tr, err := n.w.TranslateOffsets(context.Background(), "pmc", map[string]int64{"part-0": 10, "part-1": 30})
		got := []int64{tr.Targets["pmc-out/0"], tr.Targets["pmc-out/1"]}
		slices.Sort(got)
		if err != nil || len(tr.Targets) != 2 || got[0] != 10 || got[1] != 30 || len(tr.Unknown) != 0 {
			t.Errorf("translate through %s: %+v %v; want one target at 10, the other at 30", n.id, tr, err)
		}
	}
}
