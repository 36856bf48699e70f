package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
)

// Log levels with scope=cluster travel through the cluster store, as
// Kafka Connect's travel through its config topic: the worker that takes
// the request writes the loggers register, and every worker applies the
// levels it has not applied yet on its next reconcile pass (the store's
// change feed wakes it). A worker that starts takes what the register
// already holds as applied (baselineClusterLevels), as Kafka Connect's
// workers ignore level records written before they started.

// clusterLevels is the loggers register: the levels set with
// scope=cluster, oldest first, each logger once (setting it again moves
// it to the end), so that applying them in order gives what the workers
// that saw every change have: setting a logger sets its descendants too,
// and the later write wins.
type clusterLevels struct {
	// Seq numbers the writes; each level carries the Seq of the write
	// that set it last.
	Seq    int64          `json:"seq"`
	Levels []clusterLevel `json:"levels"`
}

type clusterLevel struct {
	Logger string `json:"logger"`
	Level  string `json:"level"` // Log4j's name (LevelName)
	Seq    int64  `json:"seq"`
}

// MaxClusterLoggers bounds how many loggers may have a level set with
// scope=cluster (the register is written whole on every change).
const MaxClusterLoggers = 1024

// setLevelAttempts bounds the compare-and-set retries of one change of
// the loggers register when other workers write it at the same time.
const setLevelAttempts = 10

// set records logger's level as the latest write.
func (cl *clusterLevels) set(logger string, level slog.Level) error {
	cl.Levels = slices.DeleteFunc(cl.Levels, func(l clusterLevel) bool { return l.Logger == logger })
	if len(cl.Levels) >= MaxClusterLoggers {
		return &KindError{Kind: ErrBadRequest, Msg: fmt.Sprintf(
			"at most %d loggers can have a cluster-scoped level, and %d have one: set one of those instead", MaxClusterLoggers, len(cl.Levels))}
	}
	cl.Seq++
	cl.Levels = append(cl.Levels, clusterLevel{Logger: logger, Level: LevelName(level), Seq: cl.Seq})
	return nil
}

func readClusterLevels(ctx context.Context, st ClusterStore) (clusterLevels, int64, error) {
	b, ver, err := st.Register(ctx, regLoggers)
	if err != nil || ver == 0 {
		return clusterLevels{}, ver, err
	}
	var cl clusterLevels
	if err := json.Unmarshal(b, &cl); err != nil {
		return clusterLevels{}, ver, fmt.Errorf("cluster log levels: %w", err)
	}
	return cl, ver, nil
}

// SetClusterLogLevel implements ClusterLogLevels: it records the level in
// the loggers register (any worker may write it; no leader is needed)
// and applies it here before it returns. A worker without Loggers
// refuses (ErrNotFound). The other workers apply it on
// their next reconcile pass, and a worker that starts later when it
// starts.
func (d *Distributed) SetClusterLogLevel(ctx context.Context, logger string, level slog.Level) error {
	if d.cfg.Loggers == nil {
		// It could not apply the level here, nor say it did.
		return &KindError{Kind: ErrNotFound, Msg: "this worker does not change log levels at run time (DistributedConfig.Loggers is not set)"}
	}
	if err := CheckLoggerName(logger); err != nil {
		return err
	}
	for range setLevelAttempts {
		cl, ver, err := readClusterLevels(ctx, d.st)
		if err != nil {
			return err
		}
		if err := cl.set(logger, level); err != nil {
			return err
		}
		b, err := json.Marshal(cl)
		if err != nil {
			return err
		}
		_, err = d.st.PutRegister(ctx, regLoggers, ver, b)
		if errors.Is(err, ErrRegisterConflict) {
			continue // another worker set a level meanwhile: again on top of it
		}
		if err != nil {
			return fmt.Errorf("storing the cluster log level of %s: %w", logger, err)
		}
		d.applyClusterLevels(ctx)
		return nil
	}
	return fmt.Errorf("the cluster log levels kept changing under %d attempts: %w", setLevelAttempts, ErrRebalancing)
}

// baselineClusterLevels takes the cluster-scoped levels stored before
// this worker started as applied without applying them: as in Kafka
// Connect (KIP-976), a cluster-scoped level reaches the workers in the
// cluster when it is set, and a worker that starts later begins with its
// own --log-level, so a debug level set to chase a problem does not
// outlive the workers it was set on.
func (d *Distributed) baselineClusterLevels(ctx context.Context) {
	if d.cfg.Loggers == nil {
		return
	}
	d.lvMu.Lock()
	defer d.lvMu.Unlock()
	b, ver, err := d.st.Register(ctx, regLoggers)
	if err != nil || ver == 0 {
		return // unread: the first pass applies what it finds
	}
	var cl clusterLevels
	if json.Unmarshal(b, &cl) == nil {
		d.lvVer, d.lvSeq = ver, cl.Seq
	}
}

// applyClusterLevels applies to Loggers, in order, the cluster-scoped
// levels written since the last it applied (baselineClusterLevels skips
// those stored before the worker started). A level set on this worker
// alone since then stays until a newer cluster-scoped write covers it, as
// in Kafka Connect.
func (d *Distributed) applyClusterLevels(ctx context.Context) {
	if d.cfg.Loggers == nil || d.cfg.Faults.ConfigHeld() {
		return
	}
	d.lvMu.Lock()
	defer d.lvMu.Unlock()
	b, ver, err := d.st.Register(ctx, regLoggers)
	if err != nil {
		d.log.Warn("reading the cluster log levels", "err", err)
		return
	}
	if ver == d.lvVer {
		return
	}
	var cl clusterLevels
	if ver != 0 {
		if err := json.Unmarshal(b, &cl); err != nil {
			d.log.Warn("cluster log levels unreadable: ignored", "err", err)
			d.lvVer = ver
			return
		}
	}
	if cl.Seq < d.lvSeq {
		d.lvSeq = 0 // the register was written anew (a new store): all of it is new
	}
	levels := slices.Clone(cl.Levels)
	slices.SortStableFunc(levels, func(a, b clusterLevel) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, l := range levels {
		if l.Seq <= d.lvSeq {
			continue
		}
		lv, err := ParseLevel(l.Level)
		if err == nil {
			err = CheckLoggerName(l.Logger)
		}
		if err != nil {
			d.log.Warn("cluster log level ignored", "logger", l.Logger, "err", err)
			continue
		}
		d.cfg.Loggers.SetLevel(l.Logger, lv)
		d.log.Info("cluster log level applied", "logger", l.Logger, "level", LevelName(lv))
	}
	d.lvVer, d.lvSeq = ver, cl.Seq
}

var _ ClusterLogLevels = (*Distributed)(nil)
