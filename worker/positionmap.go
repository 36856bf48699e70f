package worker

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/ferryhq/ferry/api"
)

// MaxTranslateOffsets bounds the source partitions of one translation.
const MaxTranslateOffsets = 65536

// PositionMapSource is the optional part of a Controller that serves the
// position maps of sinks that keep one (api.PositionMapper, the rocketmq
// sink): GET /connectors/{name}/offsets/mapping and POST
// /connectors/{name}/offsets/mapping/translate. Both herders implement
// it; the REST API answers 404 for a Controller that does not. In cluster
// mode the maps come from every worker running one of the connector's
// tasks. Its methods may be called from any goroutine.
type PositionMapSource interface {
	// PositionMaps returns the maps of the connector's running tasks.
	// ErrNotFound for an unknown connector.
	PositionMaps(ctx context.Context, name string) (PositionMapsInfo, error)
	// TranslateOffsets translates a consumer's source offsets (per
	// source partition, the next offset to read) into target offsets by
	// api.TranslateOffsets over those maps and the connector's committed
	// offsets. ErrBadRequest for no offsets, more than
	// MaxTranslateOffsets or a negative one.
	TranslateOffsets(ctx context.Context, name string, offsets map[string]int64) (OffsetTranslationInfo, error)
}

// PositionMapsInfo is the answer of GET /connectors/{name}/offsets/mapping.
type PositionMapsInfo struct {
	Partitions []PartitionMapInfo `json:"partitions"`
	// Unreached names the workers running the connector's tasks that did
	// not answer (cluster mode); their maps are missing.
	Unreached []string `json:"unreached,omitempty"`
}

// PartitionMapInfo is one source partition's map (api.PartitionMap) as one
// task holds it.
type PartitionMapInfo struct {
	Partition string            `json:"partition"`
	Task      int               `json:"task"`
	WorkerID  string            `json:"worker_id"`
	From      int64             `json:"from"`
	Targets   []TargetSyncsInfo `json:"targets"`
}

// TargetSyncsInfo is api.TargetSyncs.
type TargetSyncsInfo struct {
	Target string             `json:"target"`
	Syncs  []PositionSyncInfo `json:"syncs"`
}

// PositionSyncInfo is api.PositionSync.
type PositionSyncInfo struct {
	Next   int64 `json:"next"`
	Offset int64 `json:"offset"`
}

// TranslateRequest is the body of POST
// /connectors/{name}/offsets/mapping/translate: a consumer group's offsets
// in the source system, per source partition (for RocketMQ
// <topic>/<broker>/<queue>), each the next offset it reads.
type TranslateRequest struct {
	Offsets map[string]int64 `json:"offsets"`
}

// OffsetTranslationInfo is the answer of POST
// /connectors/{name}/offsets/mapping/translate (api.OffsetTranslation).
type OffsetTranslationInfo struct {
	Targets map[string]int64   `json:"targets"`
	Unknown []UntranslatedInfo `json:"unknown"`
	// Unreached as in PositionMapsInfo: when not empty, Targets is empty
	// and Unknown says why.
	Unreached []string `json:"unreached,omitempty"`
}

// UntranslatedInfo is api.Untranslated.
type UntranslatedInfo struct {
	Target    string `json:"target"`
	Partition string `json:"partition"`
	Reason    string `json:"reason"`
}

// positionMapper is the optional position-map capability of a task.
type positionMapper interface {
	PositionMap() []api.PartitionMap
}

// slotPositionMap is one task slot's map in REST form, nil when it runs
// no task or its sink keeps none.
func slotPositionMap(t *taskSlot, workerID string) []PartitionMapInfo {
	if t == nil {
		return nil
	}
	r := t.runner.Load()
	if r == nil {
		return nil
	}
	pm, ok := (*r).(positionMapper)
	if !ok {
		return nil
	}
	var out []PartitionMapInfo
	for _, m := range pm.PositionMap() {
		info := PartitionMapInfo{Partition: m.Partition, Task: t.index, WorkerID: workerID, From: m.From, Targets: []TargetSyncsInfo{}}
		for _, ts := range m.Targets {
			ti := TargetSyncsInfo{Target: ts.Target, Syncs: []PositionSyncInfo{}}
			for _, s := range ts.Syncs {
				ti.Syncs = append(ti.Syncs, PositionSyncInfo{Next: s.Next, Offset: s.Offset})
			}
			info.Targets = append(info.Targets, ti)
		}
		out = append(out, info)
	}
	return out
}

// sortMaps orders maps by partition, then task.
func sortMaps(ms []PartitionMapInfo) {
	slices.SortFunc(ms, func(a, b PartitionMapInfo) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Task, b.Task))
	})
}

// checkTranslate rejects a translation request out of bounds.
func checkTranslate(offsets map[string]int64) error {
	if len(offsets) == 0 {
		return fmt.Errorf("%w: offsets must list at least one source partition", ErrBadRequest)
	}
	if len(offsets) > MaxTranslateOffsets {
		return fmt.Errorf("%w: %d offsets, at most %d", ErrBadRequest, len(offsets), MaxTranslateOffsets)
	}
	for p, o := range offsets {
		if o < 0 {
			return fmt.Errorf("%w: offset of %q is %d; offsets are at least 0", ErrBadRequest, p, o)
		}
	}
	return nil
}

// translate is the translation over maps and the connector's committed
// positions (those that are decimal offsets).
func (e *engine) translate(ctx context.Context, name string, maps PositionMapsInfo, offsets map[string]int64) (OffsetTranslationInfo, error) {
	out := OffsetTranslationInfo{Targets: map[string]int64{}, Unknown: []UntranslatedInfo{}}
	if len(maps.Unreached) > 0 {
		out.Unreached = maps.Unreached
		out.Unknown = append(out.Unknown, UntranslatedInfo{Reason: "a worker running the connector's tasks did not answer; ask again"})
		return out, nil
	}
	stored, err := e.cfg.Store.Offsets(ctx, name)
	if err != nil {
		return OffsetTranslationInfo{}, err
	}
	committed := map[string]int64{}
	for p, pos := range stored {
		if n, err := strconv.ParseInt(string(pos), 10, 64); err == nil && n >= 0 {
			committed[p] = n
		}
	}
	ms := make([]api.PartitionMap, 0, len(maps.Partitions))
	for _, m := range maps.Partitions {
		am := api.PartitionMap{Partition: m.Partition, From: m.From}
		for _, ts := range m.Targets {
			at := api.TargetSyncs{Target: ts.Target}
			for _, s := range ts.Syncs {
				at.Syncs = append(at.Syncs, api.PositionSync{Next: s.Next, Offset: s.Offset})
			}
			am.Targets = append(am.Targets, at)
		}
		ms = append(ms, am)
	}
	tr := api.TranslateOffsets(ms, committed, offsets)
	out.Targets = tr.Targets
	for _, u := range tr.Unknown {
		out.Unknown = append(out.Unknown, UntranslatedInfo{Target: u.Target, Partition: u.Partition, Reason: u.Reason})
	}
	return out, nil
}

// PositionMaps implements PositionMapSource.
func (s *Standalone) PositionMaps(ctx context.Context, name string) (PositionMapsInfo, error) {
	if _, err := s.eng.connector(ctx, name); err != nil {
		return PositionMapsInfo{}, err
	}
	out := PositionMapsInfo{Partitions: []PartitionMapInfo{}}
	s.mu.Lock()
	if c, ok := s.conns[name]; ok {
		for _, t := range c.tasks {
			out.Partitions = append(out.Partitions, slotPositionMap(t, s.cfg.WorkerID)...)
		}
	}
	s.mu.Unlock()
	sortMaps(out.Partitions)
	return out, nil
}

// TranslateOffsets implements PositionMapSource.
func (s *Standalone) TranslateOffsets(ctx context.Context, name string, offsets map[string]int64) (OffsetTranslationInfo, error) {
	if err := checkTranslate(offsets); err != nil {
		return OffsetTranslationInfo{}, err
	}
	maps, err := s.PositionMaps(ctx, name)
	if err != nil {
		return OffsetTranslationInfo{}, err
	}
	return s.eng.translate(ctx, name, maps, offsets)
}

// PositionMaps implements PositionMapSource: this worker's maps and those
// of every other worker whose task status names it, asked through their
// REST API (marked forwarded, so they answer alone).
func (d *Distributed) PositionMaps(ctx context.Context, name string) (PositionMapsInfo, error) {
	if _, err := d.eng.connector(ctx, name); err != nil {
		return PositionMapsInfo{}, err
	}
	out := PositionMapsInfo{Partitions: []PartitionMapInfo{}}
	d.mu.Lock()
	for id, o := range d.owned {
		if id.Connector == name {
			out.Partitions = append(out.Partitions, slotPositionMap(o.slot, d.cfg.WorkerID)...)
		}
	}
	d.mu.Unlock()
	if RequestOf(ctx).Forwarded {
		sortMaps(out.Partitions)
		return out, nil
	}
	owners, err := d.taskOwners(ctx, name)
	if err != nil {
		return PositionMapsInfo{}, err
	}
	for _, o := range owners {
		remote, err := d.remoteMaps(ctx, o.url, name)
		if err != nil {
			d.log.Warn("cannot read a worker's position maps", "connector", name, "worker", o.id, "err", err)
			out.Unreached = append(out.Unreached, o.id)
			continue
		}
		out.Partitions = append(out.Partitions, remote.Partitions...)
	}
	sortMaps(out.Partitions)
	return out, nil
}

// TranslateOffsets implements PositionMapSource over the maps of every
// worker running the connector's tasks.
func (d *Distributed) TranslateOffsets(ctx context.Context, name string, offsets map[string]int64) (OffsetTranslationInfo, error) {
	if err := checkTranslate(offsets); err != nil {
		return OffsetTranslationInfo{}, err
	}
	maps, err := d.PositionMaps(ctx, name)
	if err != nil {
		return OffsetTranslationInfo{}, err
	}
	return d.eng.translate(ctx, name, maps, offsets)
}

// remoteMapper is what the cluster herder asks of another worker's
// Controller (DistributedConfig.Peer) for position maps;
// internal/client.Peer has it.
type remoteMapper interface {
	PositionMaps(ctx context.Context, name string) (PositionMapsInfo, error)
}

// remoteMaps asks the worker at restURL for its maps of a connector.
func (d *Distributed) remoteMaps(ctx context.Context, restURL, name string) (PositionMapsInfo, error) {
	if restURL == "" {
		return PositionMapsInfo{}, fmt.Errorf("the worker is not in the membership")
	}
	peer, err := d.cfg.Peer(restURL)
	if err != nil {
		return PositionMapsInfo{}, err
	}
	rm, ok := peer.(remoteMapper)
	if !ok {
		return PositionMapsInfo{}, fmt.Errorf("the Controller of %s serves no position maps", restURL)
	}
	return rm.PositionMaps(ctx, name)
}

var (
	_ PositionMapSource = (*Standalone)(nil)
	_ PositionMapSource = (*Distributed)(nil)
)
