package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferryhq/ferry/internal/client"
	"github.com/ferryhq/ferry/internal/rmqlog"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/ferryhq/ferry/state/rocketmq"
	ferryworker "github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/cluster"
	"github.com/ferryhq/ferry/worker/rest"
)

func init() { rootCmd.AddCommand(newWorkerCmd()) }

// workerOptions are the flags of `ferry worker`.
type workerOptions struct {
	clusterName string
	dataDir     string
	listen      string
	gossip      string
	join        string
	nameServers string
	gossipKey   string
	// gossipKeyOnArgs: --gossip-key was given on the command line (not
	// only in --config), where ps shows it.
	gossipKeyOnArgs  bool
	gossipKeyFile    string
	rmqAccessKey     string
	rmqSecretKeyFile string
	grace            time.Duration
	drainTimeout     time.Duration
	leaderWait       time.Duration
	workerID         string
	debugFaults      string
	// maxSnapshotAge and acceptLostRecords are the cluster store's
	// snapshot age and its way past records the broker deleted.
	maxSnapshotAge    time.Duration
	acceptLostRecords bool
	taskOptions
	restOptions
}

func newWorkerCmd() *cobra.Command {
	cmd, _ := workerCmd()
	return cmd
}

// workerCmd returns `ferry worker` and the options its flags set.
func workerCmd() (*cobra.Command, *workerOptions) {
	o := &workerOptions{}
	var configPath string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a cluster worker: share connectors' tasks with the other workers of a cluster",
		Long: `Run one worker of a Ferry cluster. Workers find each other by gossip (--gossip, --join),
share connector configs, offsets and status through RocketMQ topics named after --cluster, and
run the tasks the leader assigns them. Every address a worker advertises is the one given here:
--listen is its REST URL (http://HOST:PORT), --gossip its gossip address. A dead worker's tasks
move to the survivors after --grace. SIGINT or SIGTERM drains the worker: its tasks move to the
others first, then it leaves the cluster and exits 0.`,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			o.gossipKeyOnArgs = cmd.Flags().Changed("gossip-key")
			return applyConfigFile(cmd, configPath)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWorker(cmd.Context(), *o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML or JSON file of flag values (keys are flag names: cluster, listen, join, ...); flags on the command line win")
	f.StringVar(&o.clusterName, "cluster", "", "cluster name: gossip label and RocketMQ topic prefix (required)")
	f.StringVar(&o.dataDir, "data-dir", "", "directory for this worker's local files (required)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8083", "REST API address host:port, listened on and advertised as is")
	f.StringVar(&o.gossip, "gossip", "127.0.0.1:7946", "gossip address IP:port, bound and advertised as is")
	f.StringVar(&o.join, "join", "", "gossip addresses of workers to join, comma-separated")
	f.StringVar(&o.nameServers, "rocketmq", "", "RocketMQ name servers host:port, separated by ';' (required)")
	f.StringVar(&o.gossipKey, "gossip-key", "", "DEPRECATED (visible in ps): use --gossip-key-file or "+envGossipKey)
	_ = f.MarkHidden("gossip-key")
	f.StringVar(&o.gossipKeyFile, "gossip-key-file", "", "file of base64 AES keys (16, 24 or 32 bytes), one a line, the first "+
		"encrypting gossip; reloaded on change and on SIGHUP (key rotation). Or set "+envGossipKey+" (comma-separated)")
	f.StringVar(&o.rmqAccessKey, "rocketmq-access-key", "", "RocketMQ ACL access key of the cluster store (or "+envRocketMQAccessKey+")")
	f.StringVar(&o.rmqSecretKeyFile, "rocketmq-secret-key-file", "", "file holding the RocketMQ ACL secret key (or "+envRocketMQSecretKey+")")
	f.DurationVar(&o.grace, "grace", time.Second, "how long a dead worker's tasks wait for it before moving (0: at once)")
	f.DurationVar(&o.drainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, longest wait for the leader to move this worker's tasks")
	f.DurationVar(&o.leaderWait, "leader-wait", ferryworker.DefaultLeaderWait,
		"how long a REST write waits for a reachable leader while one is chosen before answering 503 (at most 1m)")
	f.StringVar(&o.workerID, "worker-id", "", "worker id, unique in the cluster and stable across restarts (default: the --listen address)")
	f.StringVar(&o.debugFaults, "debug-faults", "", "test hook: serve POST /debug/faults on this address to cut gossip and hold config reads")
	_ = f.MarkHidden("debug-faults") // a test hook, not a feature: see docs/cluster.md
	f.DurationVar(&o.maxSnapshotAge, "store-max-snapshot-age", 6*time.Hour, "longest time between two snapshots of the cluster state, even when nothing changes; keep it well inside the broker's fileReservedTime")
	f.BoolVar(&o.acceptLostRecords, "store-accept-lost-records", false, "start even though the broker deleted state records that no snapshot covers (see docs/cluster-store.md, \"Lost records\"), then snapshot what remains")
	o.taskOptions.flags(f)
	o.restOptions.flags(f)
	// cluster, data-dir and rocketmq are required, from the command line
	// or --config: runWorker checks them (cobra's check runs before the
	// file is read).
	return cmd, o
}

// applyConfigFile sets every flag the config file names and the command
// line did not. Lists (join, rocketmq) may be YAML lists or strings.
func applyConfigFile(cmd *cobra.Command, path string) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	seps := map[string]string{"join": ",", "rocketmq": ";"}
	for key, v := range values {
		fl := cmd.Flags().Lookup(key)
		if fl == nil || key == "config" {
			return fmt.Errorf("--config %s: unknown key %q", path, key)
		}
		if fl.Changed {
			continue
		}
		var s string
		switch v := v.(type) {
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			sep := seps[key]
			if sep == "" {
				sep = ","
			}
			s = strings.Join(parts, sep)
		default:
			s = fmt.Sprint(v)
		}
		if err := cmd.Flags().Set(key, s); err != nil {
			return fmt.Errorf("--config %s: %s: %w", path, key, err)
		}
	}
	return nil
}

// check reports the first flag that is missing or out of bounds.
func (o workerOptions) check() error {
	for _, f := range [][2]string{{"cluster", o.clusterName}, {"data-dir", o.dataDir}, {"rocketmq", o.nameServers}} {
		if f[1] == "" {
			return fmt.Errorf("--%s is required (on the command line or in --config)", f[0])
		}
	}
	if o.leaderWait <= 0 || o.leaderWait > ferryworker.MaxLeaderWait {
		return fmt.Errorf("--leader-wait %v: must be more than 0 and at most %v", o.leaderWait, ferryworker.MaxLeaderWait)
	}
	return nil
}

func runWorker(ctx context.Context, o workerOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	log := loggerFrom(ctx)
	if err := o.tuneGC(log); err != nil {
		return err
	}
	rmqlog.Route(log)
	gossipHost, gossipPortStr, err := net.SplitHostPort(o.gossip)
	if err != nil {
		return fmt.Errorf("--gossip: %w", err)
	}
	gossipPort, err := strconv.Atoi(gossipPortStr)
	if err != nil {
		return fmt.Errorf("--gossip port: %w", err)
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	secrets, err := o.resolveSecrets(os.Getenv)
	if err != nil {
		return err
	}
	for _, w := range secrets.warnings {
		log.Warn(w)
	}
	id := o.workerID
	if id == "" {
		id = o.listen
	}
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// The data dir holds nothing yet (state lives in RocketMQ); it is
	// where the worker id is pinned so that a restart keeps it.
	if err := pinWorkerID(filepath.Join(o.dataDir, "worker-id"), id); err != nil {
		return err
	}

	store, err := rocketmq.Open(ctx, rocketmq.Config{
		NameServers: splitList(o.nameServers, ";"),
		Cluster:     o.clusterName,
		WorkerID:    id,
		Credentials: secrets.creds,
		Logger:      log,

		MaxSnapshotAge:    o.maxSnapshotAge,
		AcceptLostRecords: o.acceptLostRecords,
	})
	if err != nil {
		return fmt.Errorf("open the cluster store: %w", err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()

	var faults *cluster.Faults
	if o.debugFaults != "" {
		faults = &cluster.Faults{}
		stop, err := serveFaults(o.debugFaults, faults, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	mem, err := cluster.NewMembership(cluster.MembershipConfig{
		Name:     id,
		BindAddr: gossipHost,
		BindPort: gossipPort,
		Seeds:    splitList(o.join, ","),
		Label:    o.clusterName,
		Keys:     secrets.gossipKeys,
		Logger:   log,
		Meta:     cluster.Meta{WorkerID: id, RESTURL: o.scheme() + "://" + o.listen, Version: version()},
		Faults:   faults,
	})
	if err != nil {
		return err
	}
	peers, err := o.restOptions.peerClient()
	if err != nil {
		_ = mem.Close()
		return err
	}
	w, err := ferryworker.NewDistributed(ferryworker.DistributedConfig{
		Peer: func(url string) (ferryworker.Controller, error) {
			return client.NewPeer(url, id, client.WithHTTPClient(peers))
		},
		Config:       o.workerConfig(id, store, log),
		Cluster:      clusterStore{store},
		Membership:   mem,
		Grace:        o.grace,
		DrainTimeout: o.drainTimeout,
		LeaderWait:   o.leaderWait,
		Faults:       faults,
		Loggers:      levelsFrom(ctx),
	})
	if err != nil {
		_ = mem.Close()
		return err
	}
	scfg, err := o.restOptions.serverConfig(rest.Config{Addr: o.listen, Controller: w, Version: version(), Commit: commit(),
		ClusterID: o.clusterName, Logger: log, Loggers: levelsFrom(ctx)})
	if err != nil {
		_ = mem.Close()
		return err
	}
	srv, err := rest.New(scfg)
	if err != nil {
		_ = mem.Close()
		return err
	}

	if secrets.keyFile != "" {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		keyCtx, keyCancel := context.WithCancel(ctx)
		keyDone := make(chan struct{})
		go func() {
			defer close(keyDone)
			watchKeyFile(keyCtx, secrets.keyFile, secrets.gossipKeys, mem, log, hup, keyFilePoll)
		}()
		defer func() { keyCancel(); <-keyDone }()
	}

	// The server keeps answering while the worker drains (followers may
	// still forward to it); it stops once the worker left.
	srvCtx, srvCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer srvCancel()
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Run(srvCtx) }()
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(ctx) }()
	var werr, srvErr error
	select {
	case werr = <-workerDone:
		srvCancel()
		srvErr = <-srvDone
	case srvErr = <-srvDone:
		// The server could not serve (a taken port): stop the worker too.
		werr = errors.Join(srvErr, <-workerDone)
	}
	if srvErr != nil && !errors.Is(srvErr, context.Canceled) {
		return fmt.Errorf("REST server: %w", srvErr)
	}
	return werr
}

// pinWorkerID records id in path, or refuses to start when the data dir
// belongs to a worker with another id (two ids for one worker would leave
// its old tasks waiting for a worker that never returns).
func pinWorkerID(path, id string) error {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.WriteFile(path, []byte(id+"\n"), 0o600)
	case err != nil:
		return fmt.Errorf("data dir: %w", err)
	}
	if old := strings.TrimSpace(string(b)); old != id {
		return fmt.Errorf("data dir %s belongs to worker %q, not %q: use --worker-id %s or another --data-dir",
			filepath.Dir(path), old, id, old)
	}
	return nil
}

func splitList(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// clusterStore adapts the RocketMQ store to worker.ClusterStore.
type clusterStore struct{ *rocketmq.Store }

func (c clusterStore) PutRegister(ctx context.Context, key string, expect int64, value []byte) (int64, error) {
	v, err := c.PutMeta(ctx, key, expect, value)
	if errors.Is(err, rocketmq.ErrConflict) {
		return v, fmt.Errorf("%w: %w", ferryworker.ErrRegisterConflict, err)
	}
	return v, err
}

func (c clusterStore) Register(ctx context.Context, key string) ([]byte, int64, error) {
	m, err := c.Meta(ctx, key)
	return m.Value, m.Version, err
}

func (c clusterStore) RegisterKeys(ctx context.Context, prefix string) ([]string, error) {
	return c.MetaKeys(ctx, prefix)
}

// Watch turns the store's change feed into coalesced wake-ups. Status and
// offsets changes are frequent and never change what a worker runs, so
// only config-topic changes wake it.
func (c clusterStore) Watch() (<-chan struct{}, func()) {
	changes, cancel := c.Subscribe()
	out := make(chan struct{}, 1)
	go func() {
		for ch := range changes {
			switch ch.Kind {
			case rocketmq.ChangeConnector, rocketmq.ChangeMeta, rocketmq.ChangeResync:
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out, cancel
}
