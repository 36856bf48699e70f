package rocketmq

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultSnapshotEvery = 1000
	DefaultQueues        = 4
	// DefaultMaxSnapshotAge is how old the newest snapshot may grow
	// before a store writes a new one even if nothing changed: far inside
	// the broker's default retention (fileReservedTime, 72 h), which
	// deletes old snapshots along with old records.
	DefaultMaxSnapshotAge = 6 * time.Hour
	// MinMaxSnapshotAge and MaxMaxSnapshotAge bound Config.MaxSnapshotAge.
	// The upper bound leaves a day of the default 72 h retention for a
	// cluster whose workers are all down.
	MinMaxSnapshotAge = time.Second
	MaxMaxSnapshotAge = 48 * time.Hour
	// maxChunk bounds one snapshot chunk's raw state bytes. Base64 in the
	// JSON envelope makes it ~1.4 MiB, well under the broker's 4 MiB
	// message limit (the producer also compresses bodies over 4 KiB).
	maxChunk = 1 << 20
)

// Credentials are RocketMQ ACL keys; empty means no ACL.
type Credentials struct {
	AccessKey string
	SecretKey string
}

// Config configures Open. The zero value of every optional field selects
// its default; Open never modifies the caller's struct.
type Config struct {
	// NameServers are the name server addresses (host:port); required.
	NameServers []string
	// Cluster is the Ferry cluster name the default topic names derive
	// from; required unless all four topics are given.
	Cluster string
	// ConfigTopic (one queue: connector definitions, in total order),
	// OffsetsTopic and StatusTopic (Queues queues, keyed by connector),
	// SnapshotTopic (one queue of snapshot chunks). Defaults:
	// ferry-<Cluster>-config, -offsets, -status, -snapshots.
	ConfigTopic   string
	OffsetsTopic  string
	StatusTopic   string
	SnapshotTopic string
	// Queues is the queue count of the offsets and status topics when the
	// store creates them (default 4). Existing topics keep theirs.
	Queues int
	// BrokerCluster restricts topic creation to the master brokers of one
	// RocketMQ cluster; empty means every master the name servers know.
	BrokerCluster string
	// InstanceName names this store's RocketMQ client; it must be unique
	// per worker process and per store (rocketmq-client-go shares one
	// client per instance name). Default: ferry-<WorkerID or pid>-<seq>.
	InstanceName string
	// WorkerID is written into every record (diagnostics only).
	WorkerID string
	// SnapshotEvery is how many records of a topic may follow its newest
	// snapshot before this store writes a new one (default 1000; negative
	// turns these count-triggered snapshots off, Snapshot still works).
	SnapshotEvery int
	// MaxSnapshotAge is how old the newest snapshot (or, before the
	// first, the oldest record) may grow before this store writes a
	// snapshot even if nothing changed, so that an idle cluster's state
	// outlives the broker's deletion of old commit-log files. Default
	// DefaultMaxSnapshotAge; from MinMaxSnapshotAge to MaxMaxSnapshotAge.
	// Keep it well below the broker's fileReservedTime.
	MaxSnapshotAge time.Duration
	// AcceptLostRecords lets Open start although the broker deleted
	// records that no snapshot covers (by default Open refuses with
	// ErrLostRecords): the store starts from what remains and writes a
	// snapshot at once, so the next Open is complete again. An operator's
	// recovery switch, for one start; never a default.
	AcceptLostRecords bool
	// Credentials are the ACL keys, if the broker enforces ACL.
	Credentials Credentials
	// Logger receives the store's own logs (default slog.Default()). The
	// RocketMQ client's logs go through its global rlog logger, which the
	// binary configures.
	Logger *slog.Logger
	// Hold is how long a read waits at a queue's end for new records
	// (broker long polling; default 3 s). Close aborts it at once.
	Hold time.Duration
}

// Validate reports whether Open would accept c (ErrConfig if not).
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults validates c and returns a copy with every default filled.
func (c Config) withDefaults() (Config, error) {
	var errs []string
	if len(c.NameServers) == 0 {
		errs = append(errs, "NameServers is empty")
	}
	if c.Cluster == "" && (c.ConfigTopic == "" || c.OffsetsTopic == "" || c.StatusTopic == "" || c.SnapshotTopic == "") {
		errs = append(errs, "Cluster is empty and not every topic is named")
	}
	if c.Queues < 0 {
		errs = append(errs, "Queues is negative")
	}
	if c.Hold < 0 {
		errs = append(errs, "Hold is negative")
	}
	if c.MaxSnapshotAge != 0 && (c.MaxSnapshotAge < MinMaxSnapshotAge || c.MaxSnapshotAge > MaxMaxSnapshotAge) {
		errs = append(errs, fmt.Sprintf("MaxSnapshotAge %s is outside %s..%s", c.MaxSnapshotAge, MinMaxSnapshotAge, MaxMaxSnapshotAge))
	}
	def := func(v *string, suffix string) {
		if *v == "" {
			*v = "ferry-" + c.Cluster + "-" + suffix
		}
	}
	def(&c.ConfigTopic, "config")
	def(&c.OffsetsTopic, "offsets")
	def(&c.StatusTopic, "status")
	def(&c.SnapshotTopic, "snapshots")
	names := map[string]bool{}
	for _, t := range []string{c.ConfigTopic, c.OffsetsTopic, c.StatusTopic, c.SnapshotTopic} {
		if names[t] {
			errs = append(errs, fmt.Sprintf("topic %q is used twice", t))
		}
		names[t] = true
		if len(t) > 127 || strings.ContainsFunc(t, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '%' || r == '|' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) {
			errs = append(errs, fmt.Sprintf("topic %q: RocketMQ allows up to 127 of [A-Za-z0-9_%%|-]", t))
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%w: %s", ErrConfig, strings.Join(errs, "; "))
	}
	c.NameServers = append([]string(nil), c.NameServers...)
	if c.Queues == 0 {
		c.Queues = DefaultQueues
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = DefaultSnapshotEvery
	}
	if c.MaxSnapshotAge == 0 {
		c.MaxSnapshotAge = DefaultMaxSnapshotAge
	}
	if c.Hold == 0 {
		c.Hold = 3 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
