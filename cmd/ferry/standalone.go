package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferryhq/ferry/internal/gctune"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/transform"
	"github.com/ferryhq/ferry/transform/predicate"
	"github.com/ferryhq/ferry/transform/smt"
	"github.com/ferryhq/ferry/worker/rest"

	// Aliased so the name worker stays free for local variables.
	ferryworker "github.com/ferryhq/ferry/worker"
)

func init() { rootCmd.AddCommand(newStandaloneCmd()) }

// storeFile is the embedded store's file name inside --data-dir.
const storeFile = "ferry.db"

// registry lists every plugin the binary ships (plugins.go); cmd is the
// only package that imports the connectors.
func registry() ferryworker.Registry {
	return ferryworker.Registry{
		Sources:       slices.Clone(sources),
		Sinks:         slices.Clone(sinks),
		Transforms:    append(transform.Plugins(), smt.Plugins()...),
		Predicates:    predicate.Plugins(),
		PredicateWrap: predicate.Wrap,
	}
}

// standaloneOptions are the flags of `ferry standalone`.
type standaloneOptions struct {
	dataDir  string
	listen   string
	workerID string
	// startStopped loads every stored connector STOPPED.
	startStopped bool
	taskOptions
	restOptions
}

func newStandaloneCmd() *cobra.Command {
	var o standaloneOptions
	cmd := &cobra.Command{
		Use:   "standalone [CONNECTOR.json|yaml ...]",
		Short: "Run a single worker with an embedded store and serve its REST API",
		Long: `Run a single worker. Connectors, offsets and status live in DATA-DIR/` + storeFile + `;
connectors stored there start again in their target state. Each file argument holds one
connector in the Kafka Connect envelope {"name":..,"config":{..}} (JSON or YAML) and is
created, or its config replaced, before the worker starts. SIGINT or SIGTERM stops every
task softly (offsets committed) and exits 0.`,
		RunE: func(cmd *cobra.Command, files []string) error {
			return runStandalone(cmd.Context(), o, files)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", "", "directory of the embedded store (required)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8083", "REST API listen address host:port")
	f.StringVar(&o.workerID, "worker-id", "", "worker id in status records (default: the --listen address)")
	f.BoolVar(&o.startStopped, "connectors-stopped", false, "load every stored connector STOPPED (their stored state is kept): the way back into a worker that a connector takes down at start; resume or delete them over the REST API")
	o.taskOptions.flags(f)
	o.restOptions.flags(f)
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}

func runStandalone(ctx context.Context, o standaloneOptions, files []string) error {
	log := loggerFrom(ctx)
	if err := o.tuneGC(log); err != nil {
		return err
	}
	// Read every file before touching the store, so a typo fails fast.
	reqs := make([]connectorRequest, 0, len(files))
	for _, path := range files {
		r, err := readConnectorFile(path, os.Stdin)
		if err != nil {
			return err
		}
		reqs = append(reqs, connectorRequest{path: path, name: r.Name, config: r.Config, initial: state.TargetState(r.InitialState)})
	}

	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	store, err := state.OpenBolt(filepath.Join(o.dataDir, storeFile))
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()

	id := o.workerID
	if id == "" {
		id = o.listen
	}
	wcfg := o.workerConfig(id, store, log)
	wcfg.StartStopped = o.startStopped
	w, err := ferryworker.New(wcfg)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		if err := applyConnectorFile(ctx, w, r); err != nil {
			return err
		}
	}
	clusterID, err := dataDirID(filepath.Join(o.dataDir, "cluster-id"))
	if err != nil {
		return err
	}
	scfg, err := o.restOptions.serverConfig(rest.Config{Addr: o.listen, Controller: w, Version: version(), Commit: commit(),
		ClusterID: clusterID, Logger: log, Loggers: levelsFrom(ctx)})
	if err != nil {
		return err
	}
	srv, err := rest.New(scfg)
	if err != nil {
		return err
	}

	// The worker and the server stop together: on a signal (ctx) or when
	// the server cannot serve (a taken port).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(ctx) }()
	srvErr := srv.Run(ctx)
	cancel()
	werr := <-workerDone
	if srvErr != nil && !errors.Is(srvErr, context.Canceled) {
		return fmt.Errorf("REST server: %w", srvErr)
	}
	return werr
}

// connectorRequest is one connector file.
type connectorRequest struct {
	path    string
	name    string
	config  map[string]string
	initial state.TargetState
}

// applyConnectorFile creates the file's connector (in its initial_state)
// or replaces its config, keeping the stored target state.
func applyConnectorFile(ctx context.Context, w *ferryworker.Standalone, r connectorRequest) error {
	// Kafka Connect's connector.class, as the REST API takes it.
	if err := ferryworker.ApplyConnectorClass(w.Plugins(), r.config); err != nil {
		return fmt.Errorf("%s: connector %q: %w", r.path, r.name, err)
	}
	_, err := w.ConnectorInfo(ctx, r.name)
	switch {
	case errors.Is(err, ferryworker.ErrNotFound):
		_, err = w.CreateConnector(ctx, r.name, r.config, r.initial)
	case err == nil:
		_, _, err = w.PutConnectorConfig(ctx, r.name, r.config)
	}
	if err != nil {
		return fmt.Errorf("%s: connector %q: %w", r.path, r.name, err)
	}
	return nil
}

// dataDirID is a standalone worker's cluster id (GET /'s
// kafka_cluster_id and ferry_cluster_id): made once, at random, and kept
// in path, so it names this data dir across restarts as a Kafka cluster
// id names its cluster.
func dataDirID(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if id := strings.TrimSpace(string(b)); id != "" && len(id) <= 64 {
			return id, nil
		}
		return "", fmt.Errorf("data dir: %s does not hold a cluster id; remove it to make a new one", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("data dir: %w", err)
	}
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	id := "ferry-" + base64.RawURLEncoding.EncodeToString(rnd[:])
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	return id, nil
}

// taskOptions are the task-supervision and process flags `ferry
// standalone` and `ferry worker` share.
type taskOptions struct {
	restartInitial  time.Duration
	restartMax      time.Duration
	restartAttempts int
	commitInterval  time.Duration
	gcPercent       int
	memoryLimit     string
	secretEnv       []string
	secretPaths     []string
}

func (o *taskOptions) flags(f *pflag.FlagSet) {
	f.DurationVar(&o.restartInitial, "task-restart-initial", time.Second, "first delay before a failed task restarts; 0 disables automatic restarts")
	f.DurationVar(&o.restartMax, "task-restart-max", time.Minute, "longest delay between automatic restarts of a task")
	f.IntVar(&o.restartAttempts, "task-restart-attempts", 10, "automatic restarts in a row before a task stays FAILED; -1 for unlimited")
	f.DurationVar(&o.commitInterval, "offset-flush-interval", ferryworker.DefaultCommitInterval, "default of offset.flush.interval.ms: how often acknowledged positions are committed, which bounds what a killed worker replays")
	f.IntVar(&o.gcPercent, "gc-percent", 0, fmt.Sprintf("the garbage collector's GOGC for this process; 0 means %d (GOGC in the environment wins)", gctune.DefaultPercent))
	f.StringSliceVar(&o.secretEnv, "secret-allow-env", nil, "environment variable name prefixes that ${env:} references may read; with --secret-allow-path, an allow-list that binds every reference (default: references resolve only in secret fields, from any variable or file)")
	f.StringSliceVar(&o.secretPaths, "secret-allow-path", nil, "absolute files or directories that ${file:} and ${dir:} references may read (see --secret-allow-env)")
	f.StringVar(&o.memoryLimit, "memory-limit", "auto", fmt.Sprintf("soft memory limit of this process: auto (%s, rising with the live heap, at most %.0f%% of the machine's or the cgroup's memory), auto:<size> (the same from another floor, at least %s), off, or a size such as 4GiB (GOMEMLIMIT in the environment wins)", gctune.FormatBytes(gctune.DefaultFloor), gctune.DefaultLimitShare*100, gctune.FormatBytes(gctune.MinFloor)))
}

// tuneGC applies the collector flags and logs the settings in force.
func (o taskOptions) tuneGC(log *slog.Logger) error {
	s, err := gctune.Apply(gctune.Request{Percent: o.gcPercent, Limit: o.memoryLimit})
	if err != nil {
		return err
	}
	log.Info("garbage collector", "settings", s.String())
	return nil
}

// workerConfig is the worker engine's config from these flags.
func (o taskOptions) workerConfig(id string, store state.Store, log *slog.Logger) ferryworker.Config {
	return ferryworker.Config{
		WorkerID: id,
		Store:    store,
		Registry: registry(),
		Restart: ferryworker.RestartPolicy{
			Disabled:    o.restartInitial == 0,
			Initial:     o.restartInitial,
			Max:         o.restartMax,
			MaxAttempts: o.restartAttempts,
		},
		CommitInterval: o.commitInterval,
		Version:        version(),
		Logger:         log,
		SecretSources:  ferryworker.SecretSources{EnvPrefixes: o.secretEnv, Paths: o.secretPaths},
	}
}
