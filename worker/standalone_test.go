package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	store := state.NewMemory()
	tests := []struct {
		name    string
		cfg     worker.Config
		wantErr string
	}{
		{"ok", worker.Config{WorkerID: "w", Store: store}, ""},
		{"no worker id", worker.Config{Store: store}, "WorkerID is required"},
		{"no store", worker.Config{WorkerID: "w"}, "Store is required"},
		{"initial above max", worker.Config{WorkerID: "w", Store: store, Restart: worker.RestartPolicy{Initial: time.Minute, Max: time.Second}}, "Initial exceeds"},
		{"duplicate plugin", worker.Config{WorkerID: "w", Store: store, Registry: worker.Registry{Sinks: []api.SinkPlugin{
			{Name: "x", New: func(api.TaskConfig) (api.Sink, error) { return nil, nil }},
			{Name: "x", New: func(api.TaskConfig) (api.Sink, error) { return nil, nil }},
		}}}, `two sink plugins are called "x"`},
		{"predicates without wrap", worker.Config{WorkerID: "w", Store: store, Registry: worker.Registry{Predicates: []api.PredicatePlugin{
			{Name: "p", New: func(api.Config) (api.Predicate, error) { return nil, nil }},
		}}}, "predicates need PredicateWrap"},
		{"relative secret path", worker.Config{WorkerID: "w", Store: store, SecretSources: worker.SecretSources{Paths: []string{"secrets"}}}, "must be absolute"},
		{"empty env prefix", worker.Config{WorkerID: "w", Store: store, SecretSources: worker.SecretSources{EnvPrefixes: []string{""}}}, "would allow every variable"},
		{"plugin without New", worker.Config{WorkerID: "w", Store: store, Registry: worker.Registry{Sources: []api.SourcePlugin{{Name: "s"}}}}, "has no New"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := worker.New(tc.cfg); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	tests := []struct {
		name   string
		config map[string]string
		want   []string // "key: message" of every expected field error, in order
	}{
		{
			name:   "valid",
			config: baseConfig("ok"),
		},
		{
			name:   "unknown source and missing sink field",
			config: map[string]string{"name": "x", "source": "foo", "sink": "mem"},
			want:   []string{`source: unknown source plugin "foo"; available: counter, planned`, "sink.path: is required"},
		},
		{
			name:   "typo and bad envelope values",
			config: with(baseConfig("x"), "tasks.max", "0", "errors.tolerance", "some", "sinkk.path", "a", "batch.size", "many"),
			want: []string{
				"tasks.max: must be between 1 and 1024",
				`batch.size: must be an integer, got "many"`,
				`errors.tolerance: must be one of none, all, got "some"`,
				"sinkk.path: unknown configuration key",
			},
		},
		{
			name: "transforms",
			config: with(baseConfig("x"), "transforms", "a,b", "transforms.a.type", "tag",
				"transforms.b.type", "nope", "transforms.c.type", "tag"),
			want: []string{
				"transforms.a.value: is required",
				`transforms.b.type: unknown transform plugin "nope"; available: tag`,
				`transforms.c.type: alias "c" is not listed in transforms`,
			},
		},
		{
			name: "predicates",
			config: with(baseConfig("x"), "transforms", "a,b,c", "transforms.a.type", "tag", "transforms.a.value", "v",
				"transforms.a.predicate", "even", "transforms.b.type", "tag", "transforms.b.value", "v", "transforms.b.predicate", "nope",
				"transforms.c.type", "tag", "transforms.c.value", "v", "transforms.c.negate", "maybe",
				"predicates", "even,odd,odd", "predicates.even.type", "even", "predicates.odd.type", "gone", "predicates.x.type", "even"),
			want: []string{
				`transforms.b.predicate: predicate "nope" is not listed in predicates`,
				`transforms.c.negate: must be true or false, got "maybe"`,
				`predicates: alias "odd" is listed twice`,
				`predicates.odd.type: unknown predicate plugin "gone"; available: even`,
				`predicates.x.type: alias "x" is not listed in predicates`,
			},
		},
		{
			name:   "dead letter queue sink fields",
			config: with(baseConfig("x"), "errors.deadletterqueue.sink", "mem", "errors.deadletterqueue.sink.token", "t"),
			want:   []string{"errors.deadletterqueue.sink.path: is required"},
		},
		{
			name:   "dead letter fields without sink",
			config: with(baseConfig("x"), "errors.deadletterqueue.sink.path", "p"),
			want:   []string{"errors.deadletterqueue.sink.path: set without errors.deadletterqueue.sink"},
		},
		{
			name:   "missing everything",
			config: map[string]string{},
			want:   []string{"name: is required", "source: is required", "sink: is required"},
		},
		{
			name:   "plugin field types",
			config: with(baseConfig("x"), "source.count", "ten"),
			want:   []string{`source.count: must be an integer, got "ten"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			// CreateConnector fails with one *api.ValidationError naming
			// every problem.
			name := tc.config["name"]
			if name == "" {
				name = "unnamed"
			}
			cfg := with(tc.config, "name", name)
			_, err := w.CreateConnector(ctx, name+"-"+strings.ReplaceAll(tc.name, " ", "-"), without(cfg, "name"), "")
			var ve *api.ValidationError
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("CreateConnector: %v", err)
				}
			} else {
				if !errors.As(err, &ve) {
					t.Fatalf("CreateConnector error = %v, want *api.ValidationError", err)
				}
				var got []string
				for _, f := range ve.Fields {
					got = append(got, f.Error())
				}
				if !slices.Equal(got, without2(tc.want, "name: is required")) {
					t.Errorf("fields:\n got %q\nwant %q", got, without2(tc.want, "name: is required"))
				}
			}
			// Validate reports the same errors per field.
			infos, err := w.Validate(ctx, "", tc.config)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if infos.ErrorCount != len(tc.want) {
				t.Errorf("ErrorCount = %d, want %d", infos.ErrorCount, len(tc.want))
			}
			for _, want := range tc.want {
				key, msg, _ := strings.Cut(want, ": ")
				if !hasConfigError(infos, key, msg) {
					t.Errorf("ConfigInfos lacks %s: %s", key, msg)
				}
			}
		})
	}
}

func without(m map[string]string, keys ...string) map[string]string {
	out := with(m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

func without2(s []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(s), func(v string) bool { return v == drop })
}

func hasConfigError(infos worker.ConfigInfos, key, msg string) bool {
	for _, c := range infos.Configs {
		if c.Value.Name == key && slices.Contains(c.Value.Errors, msg) {
			return true
		}
	}
	return false
}

func TestValidatePluginPathSegment(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	cfg := without(baseConfig("v"), "source")
	infos, err := w.Validate(ctx, "counter", cfg)
	if err != nil || infos.ErrorCount != 0 || infos.Name != "counter" {
		t.Fatalf("Validate(counter) = %+v, %v; want the path to fill source=", infos, err)
	}
	if _, err := w.Validate(ctx, "nope", cfg); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("unknown plugin: %v, want ErrNotFound", err)
	}
	if _, err := w.Validate(ctx, "mem", with(cfg, "source", "counter", "sink", "other")); !errors.Is(err, worker.ErrBadRequest) {
		t.Errorf("mismatched plugin: %v, want ErrBadRequest", err)
	}
	keys, err := w.PluginConfig("mem")
	if err != nil || len(keys) != 2 || keys[0].Name != "path" || !keys[0].Required || keys[1].Type != "PASSWORD" {
		t.Errorf("PluginConfig(mem) = %+v, %v", keys, err)
	}
	if _, err := w.PluginConfig("nope"); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("PluginConfig(nope): %v", err)
	}
	var kinds []string
	for _, p := range w.Plugins() {
		kinds = append(kinds, p.Type+":"+p.Class)
	}
	if want := []string{"predicate:ferry.predicate.even", "sink:ferry.sink.mem", "source:ferry.source.counter", "source:ferry.source.planned", "transformation:ferry.transform.tag"}; !slices.Equal(kinds, want) {
		t.Errorf("Plugins = %v, want %v", kinds, want)
	}
	// A class names one kind's plugin; the short name every kind's.
	if keys, err := w.PluginConfig("ferry.sink.mem"); err != nil || len(keys) != 2 {
		t.Errorf("PluginConfig(ferry.sink.mem) = %+v, %v", keys, err)
	}
	for _, wrongKind := range []string{"ferry.source.mem", "ferry.transform.mem", "ferry.sink.", "ferry.widget.mem"} {
		if _, err := w.PluginConfig(wrongKind); !errors.Is(err, worker.ErrNotFound) {
			t.Errorf("PluginConfig(%s): %v, want ErrNotFound", wrongKind, err)
		}
	}
}

func TestCreateRunsAndReportsStatus(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	cfg := with(baseConfig("flow"), "tasks.max", "2", "transforms", "t", "transforms.t.type", "tag", "transforms.t.value", "v1")
	info, err := w.CreateConnector(ctx, "flow", cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "flow" || info.Type != "source" || info.Config["sink.path"] != "flow-out" {
		t.Errorf("info = %+v", info)
	}
	if _, err := w.CreateConnector(ctx, "flow", cfg, ""); !errors.Is(err, worker.ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	if _, err := w.CreateConnector(ctx, "other", cfg, ""); !errors.Is(err, worker.ErrBadRequest) {
		t.Errorf("name mismatch: %v, want ErrBadRequest", err)
	}
	w.waitStates(t, "flow", "RUNNING", "RUNNING", "RUNNING")
	eventually(t, "records in the sink", func() bool { return len(w.fakes.records("flow-out")) > 20 })
	if r := w.fakes.records("flow-out")[0]; r.Event.Extensions["tag"] != "v1" {
		t.Errorf("transform not applied: %+v", r.Event.Extensions)
	}
	st, _ := w.ConnectorStatus(ctx, "flow")
	if st.Connector.WorkerID != "127.0.0.1:8083" || st.Tasks[1].ID != 1 || st.Tasks[1].WorkerID != "127.0.0.1:8083" {
		t.Errorf("status = %+v", st)
	}
	ts, err := w.TaskStatus(ctx, "flow", 1)
	if err != nil || ts.State != "RUNNING" {
		t.Errorf("TaskStatus = %+v, %v", ts, err)
	}
	if _, err := w.TaskStatus(ctx, "flow", 2); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("TaskStatus(2): %v", err)
	}
	tcs, err := w.TaskConfigs(ctx, "flow")
	if err != nil || len(tcs) != 2 || tcs[1].ID != (worker.TaskID{Connector: "flow", Task: 1}) || tcs[0].Config["sink.path"] != "flow-out" {
		t.Errorf("TaskConfigs = %+v, %v", tcs, err)
	}
	info, _ = w.ConnectorInfo(ctx, "flow")
	if len(info.Tasks) != 2 {
		t.Errorf("info tasks = %v", info.Tasks)
	}
	names, _ := w.Connectors(ctx)
	if !slices.Equal(names, []string{"flow"}) {
		t.Errorf("Connectors = %v", names)
	}
	eventually(t, "task metrics", func() bool {
		ms := w.TaskMetrics()
		return len(ms) == 2 && ms[0].Connector == "flow" && ms[0].Snapshot.SourceRecordPollTotal > 0
	})
	eventually(t, "committed offsets", func() bool {
		o, err := w.Offsets(ctx, "flow")
		return err == nil && len(o.Offsets) == 1 && o.Offsets[0].Partition["partition"] == "p0"
	})
	for _, m := range []func() error{
		func() error { _, err := w.ConnectorInfo(ctx, "nope"); return err },
		func() error { _, err := w.ConnectorStatus(ctx, "nope"); return err },
		func() error { _, err := w.TaskConfigs(ctx, "nope"); return err },
		func() error { return w.DeleteConnector(ctx, "nope") },
		func() error { return w.SetTargetState(ctx, "nope", state.TargetPaused) },
		func() error { _, err := w.Offsets(ctx, "nope"); return err },
		func() error { return w.RestartTask(ctx, "nope", 0) },
	} {
		if err := m(); !errors.Is(err, worker.ErrNotFound) {
			t.Errorf("absent connector: %v, want ErrNotFound", err)
		}
	}
}

func TestPauseResumeStop(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	if _, err := w.CreateConnector(ctx, "life", baseConfig("life"), ""); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "life", "RUNNING", "RUNNING")
	// RUNNING is reported before the source has produced anything; the
	// offsets check below needs something written.
	eventually(t, "records before pause", func() bool { return len(w.fakes.records("life-out")) > 0 })

	if err := w.SetTargetState(ctx, "life", state.TargetPaused); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "life", "PAUSED", "PAUSED")
	n := len(w.fakes.records("life-out"))
	time.Sleep(50 * time.Millisecond)
	if m := len(w.fakes.records("life-out")); m != n {
		t.Errorf("paused connector wrote %d more records", m-n)
	}
	if len(w.TaskMetrics()) != 0 {
		t.Errorf("paused tasks still listed in TaskMetrics")
	}
	if tcs, _ := w.TaskConfigs(ctx, "life"); len(tcs) != 1 {
		t.Errorf("paused connector keeps its task configs, got %d", len(tcs))
	}
	// A soft stop committed what the sink acknowledged.
	o, _ := w.Offsets(ctx, "life")
	if len(o.Offsets) != 1 || o.Offsets[0].Offset["position"] != lastPosition(w.fakes.records("life-out")) {
		t.Errorf("offsets after pause = %+v, want the last written position %s", o, lastPosition(w.fakes.records("life-out")))
	}

	if err := w.SetTargetState(ctx, "life", state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "life", "RUNNING", "RUNNING")
	eventually(t, "records after resume", func() bool { return len(w.fakes.records("life-out")) > n+10 })

	if err := w.SetTargetState(ctx, "life", state.TargetStopped); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "life", "STOPPED")
	if tcs, _ := w.TaskConfigs(ctx, "life"); len(tcs) != 0 {
		t.Errorf("stopped connector has %d task configs", len(tcs))
	}
	if info, _ := w.ConnectorInfo(ctx, "life"); len(info.Tasks) != 0 {
		t.Errorf("stopped connector lists tasks %v", info.Tasks)
	}
	if err := w.SetTargetState(ctx, "life", "SLEEPING"); !errors.Is(err, worker.ErrBadRequest) {
		t.Errorf("bad target: %v", err)
	}
	// Positions resume after the committed one: no record is written twice
	// across pause/resume because every stop committed what was written.
	recs := w.fakes.records("life-out")
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.Event.ID] {
			t.Fatalf("record %s written twice", r.Event.ID)
		}
		seen[r.Event.ID] = true
	}
}

func lastPosition(recs []api.Record) string {
	if len(recs) == 0 {
		return ""
	}
	return string(recs[len(recs)-1].Position)
}

func TestCreateInInitialState(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		target state.TargetState
		conn   string
		tasks  []string
	}{
		{state.TargetPaused, "PAUSED", []string{"PAUSED"}},
		{state.TargetStopped, "STOPPED", nil},
	} {
		name := "init-" + strings.ToLower(string(tc.target))
		if _, err := w.CreateConnector(ctx, name, baseConfig(name), tc.target); err != nil {
			t.Fatal(err)
		}
		w.waitStates(t, name, tc.conn, tc.tasks...)
		if len(w.fakes.records(name+"-out")) != 0 {
			t.Errorf("%s connector wrote records", tc.target)
		}
	}
	if _, err := w.CreateConnector(ctx, "bad", baseConfig("bad"), "SLEEPING"); !errors.Is(err, worker.ErrBadRequest) {
		t.Errorf("bad initial state: %v", err)
	}
}

func TestOffsetsAlterOnlyWhenStopped(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	if _, err := w.CreateConnector(ctx, "offs", baseConfig("offs"), ""); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "offs", "RUNNING", "RUNNING")
	set := worker.ConnectorOffsets{Offsets: []worker.PartitionOffset{
		{Partition: map[string]string{"partition": "p0"}, Offset: map[string]string{"position": "999"}},
		{Partition: map[string]string{"partition": "bin"}, Offset: map[string]string{"position_base64": "/wA="}},
	}}
	if err := w.AlterOffsets(ctx, "offs", set); !errors.Is(err, worker.ErrNotStopped) {
		t.Fatalf("alter while running: %v, want ErrNotStopped", err)
	}
	if err := w.ResetOffsets(ctx, "offs"); !errors.Is(err, worker.ErrNotStopped) {
		t.Fatalf("reset while running: %v, want ErrNotStopped", err)
	}
	if err := w.SetTargetState(ctx, "offs", state.TargetPaused); err != nil {
		t.Fatal(err)
	}
	if err := w.AlterOffsets(ctx, "offs", set); !errors.Is(err, worker.ErrNotStopped) {
		t.Fatalf("alter while paused: %v, want ErrNotStopped", err)
	}
	if err := w.SetTargetState(ctx, "offs", state.TargetStopped); err != nil {
		t.Fatal(err)
	}
	if err := w.AlterOffsets(ctx, "offs", set); err != nil {
		t.Fatalf("alter while stopped: %v", err)
	}
	got, err := w.Offsets(ctx, "offs")
	if err != nil {
		t.Fatal(err)
	}
	want := []worker.PartitionOffset{
		{Partition: map[string]string{"partition": "bin"}, Offset: map[string]string{"position_base64": "/wA="}},
		{Partition: map[string]string{"partition": "p0"}, Offset: map[string]string{"position": "999"}},
	}
	if len(got.Offsets) != 2 || got.Offsets[0].Offset["position_base64"] != "/wA=" || got.Offsets[1].Offset["position"] != "999" {
		t.Fatalf("Offsets = %+v, want %+v", got, want)
	}
	// A null offset deletes one partition.
	if err := w.AlterOffsets(ctx, "offs", worker.ConnectorOffsets{Offsets: []worker.PartitionOffset{{Partition: map[string]string{"partition": "bin"}}}}); err != nil {
		t.Fatal(err)
	}
	// Resuming starts after the altered position.
	if err := w.SetTargetState(ctx, "offs", state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	eventually(t, "records after the altered offset", func() bool {
		for _, r := range w.fakes.records("offs-out") {
			if string(r.Position) == "1000" {
				return true
			}
		}
		return false
	})
	if err := w.SetTargetState(ctx, "offs", state.TargetStopped); err != nil {
		t.Fatal(err)
	}
	if err := w.ResetOffsets(ctx, "offs"); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.Offsets(ctx, "offs"); len(got.Offsets) != 0 {
		t.Errorf("after reset: %+v", got)
	}
	for _, bad := range []worker.ConnectorOffsets{
		{},
		{Offsets: []worker.PartitionOffset{{Partition: map[string]string{"part": "x"}, Offset: map[string]string{"position": "1"}}}},
		{Offsets: []worker.PartitionOffset{{Partition: map[string]string{"partition": "x"}, Offset: map[string]string{}}}},
		{Offsets: []worker.PartitionOffset{{Partition: map[string]string{"partition": "x"}, Offset: map[string]string{"position_base64": "!!"}}}},
	} {
		if err := w.AlterOffsets(ctx, "offs", bad); !errors.Is(err, worker.ErrBadRequest) {
			t.Errorf("AlterOffsets(%+v) = %v, want ErrBadRequest", bad, err)
		}
	}
}

func TestFailedTaskRestartsWithBackoff(t *testing.T) {
	t.Parallel()
	fakes := newHerdFakes()
	// The runtime retries a failed Open itself for errors.retry.timeout
	// (20 ms here) with delays drawn from [0, 100 ms·2^n], so a few
	// failures can all fall within one run and the task never fails: with
	// 3, about one run in a hundred (a CI flake). Six failures within 20 ms
	// are practically impossible.
	fakes.setOpenFailures(6, false)
	w := startHerd(t, fakes, nil)
	ctx := context.Background()
	if _, err := w.CreateConnector(ctx, "flaky", baseConfig("flaky"), ""); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "flaky", "RUNNING", "RUNNING")
	eventually(t, "records after recovery", func() bool { return len(fakes.records("flaky-out")) > 0 })
	if !w.store.sawState("flaky", 0, state.StateRestarting) {
		t.Error("task never reported RESTARTING")
	}
	if !strings.Contains(w.log.String(), "upstream refused the connection") {
		t.Error("the failure was not logged")
	}
	// The runtime's lines name the worker, connector and task once each.
	for _, line := range strings.Split(w.log.String(), "\n") {
		if !strings.Contains(line, "retrying after error") {
			continue
		}
		for _, attr := range []string{" worker=", " connector=", " task="} {
			if n := strings.Count(line, attr); n != 1 {
				t.Errorf("%q appears %d times in a runtime log line: %s", strings.TrimSpace(attr), n, line)
			}
		}
	}
}

func TestFailedTaskWithoutRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fatal  bool
		policy worker.RestartPolicy
	}{
		{"restarts disabled", false, worker.RestartPolicy{Disabled: true}},
		{"fatal error", true, worker.RestartPolicy{Initial: time.Millisecond}},
		{"attempts exhausted", false, worker.RestartPolicy{Initial: time.Millisecond, Max: 2 * time.Millisecond, MaxAttempts: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fakes := newHerdFakes()
			fakes.setOpenFailures(1000, tc.fatal)
			w := startHerd(t, fakes, nil, func(c *worker.Config) { c.Restart = tc.policy })
			ctx := context.Background()
			if _, err := w.CreateConnector(ctx, "bad", baseConfig("bad"), ""); err != nil {
				t.Fatal(err)
			}
			w.waitStates(t, "bad", "RUNNING", "FAILED")
			ts, _ := w.TaskStatus(ctx, "bad", 0)
			if !strings.Contains(ts.Trace, "upstream refused the connection") {
				t.Errorf("trace = %q", ts.Trace)
			}
			// Fixed upstream + manual restart: RUNNING again.
			fakes.setOpenFailures(0, false)
			st, err := w.RestartConnector(ctx, "bad", true, true)
			if err != nil {
				t.Fatal(err)
			}
			if st.Name != "bad" {
				t.Errorf("restart status = %+v", st)
			}
			w.waitStates(t, "bad", "RUNNING", "RUNNING")
		})
	}
}

func TestRestartTaskAndConnector(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	if _, err := w.CreateConnector(ctx, "rs", with(baseConfig("rs"), "tasks.max", "2"), ""); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "rs", "RUNNING", "RUNNING", "RUNNING")
	opens := func() int { w.fakes.mu.Lock(); defer w.fakes.mu.Unlock(); return w.fakes.opens }
	n := opens()
	if err := w.RestartTask(ctx, "rs", 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "task 1 reopened", func() bool { return opens() == n+1 })
	if err := w.RestartTask(ctx, "rs", 7); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("RestartTask(7): %v", err)
	}
	// onlyFailed with no failed task restarts nothing; includeTasks all.
	if _, err := w.RestartConnector(ctx, "rs", true, true); err != nil {
		t.Fatal(err)
	}
	if _, err := w.RestartConnector(ctx, "rs", true, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both tasks reopened", func() bool { return opens() == n+3 })
	w.waitStates(t, "rs", "RUNNING", "RUNNING", "RUNNING")
}

func TestConfigUpdateRestartsTasks(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	cfg := baseConfig("upd")
	if _, created, err := w.PutConnectorConfig(ctx, "upd", cfg); err != nil || !created {
		t.Fatalf("put new: created=%v err=%v", created, err)
	}
	w.waitStates(t, "upd", "RUNNING", "RUNNING")
	eventually(t, "records at the first path", func() bool { return len(w.fakes.records("upd-out")) > 0 })

	if _, created, err := w.PutConnectorConfig(ctx, "upd", with(cfg, "sink.path", "upd-second", "tasks.max", "3")); err != nil || created {
		t.Fatalf("put update: created=%v err=%v", created, err)
	}
	w.waitStates(t, "upd", "RUNNING", "RUNNING", "RUNNING", "RUNNING")
	eventually(t, "records at the second path", func() bool { return len(w.fakes.records("upd-second")) > 0 })

	// PATCH merges; a nil value deletes a key.
	path := "upd-third"
	info, err := w.PatchConnectorConfig(ctx, "upd", map[string]*string{"sink.path": &path, "tasks.max": nil})
	if err != nil {
		t.Fatal(err)
	}
	if info.Config["sink.path"] != "upd-third" || info.Config["tasks.max"] != "" {
		t.Errorf("patched config = %v", info.Config)
	}
	w.waitStates(t, "upd", "RUNNING", "RUNNING")
	eventually(t, "records at the third path", func() bool { return len(w.fakes.records("upd-third")) > 0 })
	// An invalid update is rejected and the connector keeps running.
	bad := ""
	if _, err := w.PatchConnectorConfig(ctx, "upd", map[string]*string{"sink.path": &bad}); err == nil {
		t.Error("patch to an invalid config succeeded")
	}
	if _, err := w.PatchConnectorConfig(ctx, "absent", nil); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("patch absent: %v", err)
	}
	w.waitStates(t, "upd", "RUNNING", "RUNNING")
}

func TestDeleteKeepsOffsets(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	if _, err := w.CreateConnector(ctx, "del", baseConfig("del"), ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "records", func() bool { return len(w.fakes.records("del-out")) > 10 })
	if err := w.DeleteConnector(ctx, "del"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ConnectorInfo(ctx, "del"); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if len(w.TaskMetrics()) != 0 {
		t.Error("deleted connector's tasks still run")
	}
	n := len(w.fakes.records("del-out"))
	// Re-created under the same name it resumes after the committed
	// position, with a newer generation than the deleted one's offsets.
	if _, err := w.CreateConnector(ctx, "del", baseConfig("del"), ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "records after re-create", func() bool { return len(w.fakes.records("del-out")) > n+10 })
	recs := w.fakes.records("del-out")
	if got, want := string(recs[n].Position), incr(lastPosition(recs[:n])); got != want {
		t.Errorf("re-created connector started at %s, want %s", got, want)
	}
}

func incr(pos string) string {
	n, err := strconv.Atoi(pos)
	if err != nil {
		return "not a number: " + pos
	}
	return strconv.Itoa(n + 1)
}

func TestFiniteSourceFinishes(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	if _, err := w.CreateConnector(ctx, "fin", with(baseConfig("fin"), "source.count", "23"), ""); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "fin", "RUNNING", "FINISHED")
	if got := len(w.fakes.records("fin-out")); got != 23 {
		t.Errorf("wrote %d records, want 23", got)
	}
	o, _ := w.Offsets(ctx, "fin")
	if len(o.Offsets) != 1 || o.Offsets[0].Offset["position"] != "22" {
		t.Errorf("offsets = %+v, want p0 at 22", o)
	}
}

func TestPlannedTasks(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	cfg := with(baseConfig("plan"), "source", "planned", "tasks.max", "5")
	if _, err := w.CreateConnector(ctx, "plan", cfg, ""); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "plan", "RUNNING", "RUNNING", "RUNNING")
	tcs, _ := w.TaskConfigs(ctx, "plan")
	if len(tcs) != 2 || tcs[0].Config["source.partition"] != "part-0" || tcs[1].Config["source.partition"] != "part-1" {
		t.Errorf("task configs = %+v", tcs)
	}
	eventually(t, "both partitions committed", func() bool {
		o, _ := w.Offsets(ctx, "plan")
		return len(o.Offsets) == 2
	})
}

func TestWorkerRestartResumes(t *testing.T) {
	t.Parallel()
	store := state.NewMemory()
	fakes := newHerdFakes()
	ctx := context.Background()

	w1, err := worker.New(worker.Config{WorkerID: "w1", Store: store, Registry: fakes.registry(),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// Written before Run: stored, then loaded by Run.
	if _, err := w1.CreateConnector(ctx, "again", baseConfig("again"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w1.CreateConnector(ctx, "held", baseConfig("held"), state.TargetPaused); err != nil {
		t.Fatal(err)
	}
	h1 := startHerdWith(t, w1, fakes)
	h1.waitStates(t, "again", "RUNNING", "RUNNING")
	h1.waitStates(t, "held", "PAUSED", "PAUSED")
	eventually(t, "records", func() bool { return len(fakes.records("again-out")) > 10 })
	h1.stop()
	if c, ts := h1.states(t, "again"); c != "UNASSIGNED" || !slices.Equal(ts, []string{"UNASSIGNED"}) {
		t.Errorf("after shutdown: %s %v, want UNASSIGNED", c, ts)
	}
	n := len(fakes.records("again-out"))
	o, _ := h1.Offsets(ctx, "again")
	if len(o.Offsets) != 1 || o.Offsets[0].Offset["position"] != lastPosition(fakes.records("again-out")) {
		t.Fatalf("shutdown did not commit the last written position: %+v", o)
	}

	// A second worker on the same store resumes where the first stopped:
	// its generation is newer, so its commits are not fenced.
	w2 := startHerd(t, fakes, store)
	w2.waitStates(t, "again", "RUNNING", "RUNNING")
	w2.waitStates(t, "held", "PAUSED", "PAUSED")
	eventually(t, "records after restart", func() bool { return len(fakes.records("again-out")) > n+10 })
	recs := fakes.records("again-out")
	if got, want := string(recs[n].Position), incr(lastPosition(recs[:n])); got != want {
		t.Errorf("resumed at %s, want %s", got, want)
	}
	eventually(t, "commits of the second worker", func() bool {
		o, _ := w2.Offsets(ctx, "again")
		if len(o.Offsets) != 1 {
			return false
		}
		got, _ := strconv.Atoi(o.Offsets[0].Offset["position"])
		first, _ := strconv.Atoi(incr(lastPosition(recs[:n])))
		return got > first
	})
	if strings.Contains(w2.log.String(), "fenced") {
		t.Errorf("second worker was fenced:\n%s", w2.log.String())
	}
}

// startHerdWith runs an already built worker until the test ends.
func startHerdWith(t *testing.T, w *worker.Standalone, fakes *herdFakes) *herdWorker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return &herdWorker{Standalone: w, fakes: fakes, stop: stop, log: &herdLog{}}
}

func TestSecretsResolvedAtStartAndNeverShown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const filePW = "file-secret-Pa55word"
	const literalToken = "literal-token-Xyz123"
	const envPW = "env-secret-Qq7"
	envName := "FERRY_HERDER_TEST_PW"
	// Not t.Setenv: this test is parallel; the name is unique to it.
	os.Setenv(envName, envPW)
	propsPath := filepath.Join(dir, "secrets.properties")
	if err := os.WriteFile(propsPath, []byte("# credentials\ndb.password = "+filePW+"\nother=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	cfg := with(baseConfig("sec"),
		"source.password", "${file:"+propsPath+":db.password}",
		"sink.token", literalToken,
		"errors.deadletterqueue.sink", "mem",
		"errors.deadletterqueue.sink.path", "dlq",
		"errors.deadletterqueue.sink.token", "${env:"+envName+"}",
	)
	info, err := w.CreateConnector(ctx, "sec", cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "sec", "RUNNING", "RUNNING")

	// Plugins got the resolved values.
	w.fakes.mu.Lock()
	gotPW := w.fakes.seenSource[0].Config.String("password")
	var tokens []string
	for _, tc := range w.fakes.seenSink {
		tokens = append(tokens, tc.Config.String("token"))
	}
	w.fakes.mu.Unlock()
	if gotPW != filePW {
		t.Errorf("source password = %q, want the file's value", gotPW)
	}
	if !slices.Contains(tokens, literalToken) || !slices.Contains(tokens, envPW) {
		t.Errorf("sink tokens = %q, want the literal and the env value", tokens)
	}

	// Nothing the Controller returns shows a secret; references are kept.
	infos, err := w.Validate(ctx, "", cfg)
	if err != nil {
		t.Fatal(err)
	}
	tcs, _ := w.TaskConfigs(ctx, "sec")
	got, _ := w.ConnectorInfo(ctx, "sec")
	shown := strings.Join([]string{fmtAny(info), fmtAny(got), fmtAny(tcs), fmtAny(infos)}, "\n")
	for _, secret := range []string{filePW, literalToken, envPW} {
		if strings.Contains(shown, secret) {
			t.Errorf("secret %q shown by the Controller:\n%s", secret, shown)
		}
	}
	if got.Config["sink.token"] != api.Redacted {
		t.Errorf("sink.token = %q, want %q", got.Config["sink.token"], api.Redacted)
	}
	if got.Config["source.password"] != "${file:"+propsPath+":db.password}" {
		t.Errorf("reference not kept: %q", got.Config["source.password"])
	}
	// The plugin logged its password; the worker's log shows it hidden.
	logs := w.log.String()
	if !strings.Contains(logs, "opening source") || !strings.Contains(logs, api.Redacted) {
		t.Errorf("plugin log line missing or not scrubbed:\n%s", logs)
	}
	for _, secret := range []string{filePW, literalToken, envPW} {
		if strings.Contains(logs, secret) {
			t.Errorf("secret %q in the log:\n%s", secret, logs)
		}
	}
}

func fmtAny(v any) string {
	return strings.ReplaceAll(strings.TrimSpace(sprint(v)), "\n", " ")
}

func TestUnresolvableSecretFailsTask(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	cfg := with(baseConfig("unres"), "source.password", "${env:FERRY_HERDER_TEST_UNSET_VAR}",
		"sink.token", "${file:/nonexistent/ferry.properties:token}")
	if _, err := w.CreateConnector(ctx, "unres", cfg, ""); err != nil {
		t.Fatalf("references are resolved at task start, not at create: %v", err)
	}
	w.waitStates(t, "unres", "RUNNING", "FAILED")
	ts, _ := w.TaskStatus(ctx, "unres", 0)
	for _, want := range []string{"source.password", "FERRY_HERDER_TEST_UNSET_VAR is not set", "sink.token", "/nonexistent/ferry.properties"} {
		if !strings.Contains(ts.Trace, want) {
			t.Errorf("trace %q lacks %q", ts.Trace, want)
		}
	}
}

func TestStoredConfigThatNoLongerValidatesFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := state.NewMemory()
	// Stored by a binary that had a plugin this one lacks.
	if _, err := store.PutConnector(ctx, state.Connector{Name: "old", Target: state.TargetRunning,
		Config: with(baseConfig("old"), "source", "gone", "sink.token", "tok-secret-1234")}); err != nil {
		t.Fatal(err)
	}
	w := startHerd(t, nil, store)
	w.waitStates(t, "old", "FAILED")
	st, _ := w.ConnectorStatus(ctx, "old")
	if !strings.Contains(st.Connector.Trace, `source: unknown source plugin "gone"`) {
		t.Errorf("trace = %q", st.Connector.Trace)
	}
	info, err := w.ConnectorInfo(ctx, "old")
	if err != nil || info.Config["sink.token"] != api.Redacted {
		t.Errorf("info = %+v, %v", info, err)
	}
	// Fixing the config through the API brings it back.
	if _, _, err := w.PutConnectorConfig(ctx, "old", baseConfig("old")); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "old", "RUNNING", "RUNNING")
	// A restart of a healthy connector without includeTasks changes nothing.
	st, err = w.RestartConnector(ctx, "old", false, false)
	if err != nil || st.Connector.State != "RUNNING" {
		t.Errorf("restart = %+v, %v", st, err)
	}
}

func TestWritesAfterShutdownOnlyPersist(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	w.stop()
	if _, err := w.CreateConnector(ctx, "late", baseConfig("late"), ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if n := len(w.fakes.records("late-out")); n != 0 || len(w.TaskMetrics()) != 0 {
		t.Errorf("a stopped worker ran a task (%d records)", n)
	}
	if err := w.Run(ctx); err == nil {
		t.Error("second Run succeeded")
	}
}

func TestPredicateGuardsTransform(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	cfg := with(baseConfig("pred"), "source.count", "10",
		"transforms", "e,o", "transforms.e.type", "tag", "transforms.e.value", "even", "transforms.e.predicate", "isEven",
		"transforms.o.type", "tag", "transforms.o.value", "odd", "transforms.o.predicate", "isEven", "transforms.o.negate", "true",
		"predicates", "isEven", "predicates.isEven.type", "even")
	if _, err := w.CreateConnector(ctx, "pred", cfg, ""); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "pred", "RUNNING", "FINISHED")
	recs := w.fakes.records("pred-out")
	if len(recs) != 10 {
		t.Fatalf("%d records, want 10", len(recs))
	}
	for _, r := range recs {
		n, _ := strconv.Atoi(string(r.Position))
		want := map[bool]string{true: "even", false: "odd"}[n%2 == 0]
		if r.Event.Extensions["tag"] != want {
			t.Errorf("record %d tagged %v, want %s", n, r.Event.Extensions["tag"], want)
		}
	}
}
