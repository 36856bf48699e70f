package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
)

// withPanickingPlanner adds a source plugin whose Plan panics.
func withPanickingPlanner(c *worker.Config) {
	c.Registry.Sources = append(c.Registry.Sources, api.SourcePlugin{
		Name: "panicplan",
		New:  func(api.TaskConfig) (api.Source, error) { return nil, errors.New("never started") },
		Plan: func(api.Config, int) ([]map[string]string, error) { panic("planner bug") },
	})
}

// TestConfigSizesAreBounded: a config may not ask the worker for more than
// it can hold. Each hostile size is refused with a 400 naming its field.
func TestConfigSizesAreBounded(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	for key, val := range map[string]string{
		"tasks.max":                         "100000000",
		"batch.size":                        "1000000000",
		"offset.flush.interval.ms":          "9223372036854775",
		"task.shutdown.graceful.timeout.ms": "100000000000",
		"errors.retry.timeout":              "87600h",
		"errors.retry.delay.max.ms":         "-1",
		"errors.retry.strategy":             "LINEAR_RETRY",
		"errors.retry.max.attempts":         "-1",
		"errors.retry.max.age.ms":           "87600h",
		"errors.deadletterqueue.format":     "xml",
		"batch.max.wait.ms":                 "9223372036854775",
		"buffer.max.records":                "2147483648",
		"buffer.max.bytes":                  "1",
	} {
		_, err := w.CreateConnector(context.Background(), "big", with(baseConfig("big"), key, val), state.TargetRunning)
		var ve *api.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != key {
			t.Errorf("%s=%s: got %v, want one field error on %s", key, val, err, key)
		}
	}
	// Sizes each within its bounds that contradict one another.
	for _, kv := range [][]string{
		{"buffer.max.records", "100", "batch.size", "1024"},
		{"batch.max.records", "5000", "batch.max.wait.ms", "100", "buffer.max.records", "4096"},
		{"batch.max.records", "100"},
		{"batch.max.wait.ms", "100"},
		{"buffer.max.bytes", "1099511627776"},
		{"errors.retry.max.attempts", "100000000000000000000"},
	} {
		_, err := w.CreateConnector(context.Background(), "mix", with(baseConfig("mix"), kv...), state.TargetRunning)
		var ve *api.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != kv[0] {
			t.Errorf("%v: got %v, want one field error on %s", kv, err, kv[0])
		}
	}
	// -1 is Kafka Connect's "forever", -2 is nothing.
	if _, err := w.CreateConnector(context.Background(), "neg", with(baseConfig("neg"), "errors.retry.timeout", "-2"), state.TargetStopped); err == nil ||
		!strings.Contains(err.Error(), "must be -1 (retry until the task stops), 0 (no retries)") {
		t.Errorf("errors.retry.timeout=-2: %v", err)
	}
	if names, _ := w.Connectors(context.Background()); len(names) != 0 {
		t.Fatalf("connectors stored: %v", names)
	}
}

// TestUnrunnableConnectorsNeverStopTheWorker stores connectors the worker
// cannot run (written before their sizes were bounded, or whose plugin
// panics while planning) beside a good one: the worker starts, marks each
// bad one FAILED with the reason, and runs the good one.
func TestUnrunnableConnectorsNeverStopTheWorker(t *testing.T) {
	t.Parallel()
	store := state.NewMemory()
	ctx := context.Background()
	for _, c := range []state.Connector{
		{Name: "huge", Config: with(baseConfig("huge"), "tasks.max", "100000000"), Target: state.TargetRunning},
		{Name: "panics", Config: with(baseConfig("panics"), "source", "panicplan"), Target: state.TargetRunning},
		{Name: "good", Config: baseConfig("good"), Target: state.TargetRunning},
	} {
		if _, err := store.PutConnector(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	w := startHerd(t, nil, store, withPanickingPlanner)
	for name, want := range map[string]string{"huge": "tasks.max: must be between 1 and 1024", "panics": `source "panicplan" panicked while planning tasks: planner bug`} {
		eventually(t, name+" FAILED", func() bool {
			st, err := w.ConnectorStatus(ctx, name)
			return err == nil && st.Connector.State == string(state.StateFailed) && strings.Contains(st.Connector.Trace, want)
		})
	}
	eventually(t, "good writes", func() bool { return len(w.fakes.records("good-out")) > 10 })
}

// TestStartStopped: a worker started with StartStopped runs none of its
// stored connectors, keeps their stored target, and lets the operator
// delete the one that brought it down.
func TestStartStopped(t *testing.T) {
	t.Parallel()
	store := state.NewMemory()
	ctx := context.Background()
	if _, err := store.PutConnector(ctx, state.Connector{Name: "a", Config: baseConfig("a"), Target: state.TargetRunning}); err != nil {
		t.Fatal(err)
	}
	w := startHerd(t, nil, store, func(c *worker.Config) { c.StartStopped = true })
	eventually(t, "a STOPPED", func() bool {
		st, err := w.ConnectorStatus(ctx, "a")
		return err == nil && st.Connector.State == string(state.StateStopped)
	})
	if n := len(w.fakes.records("a-out")); n != 0 {
		t.Fatalf("a stopped connector wrote %d records", n)
	}
	if c, _ := store.Connector(ctx, "a"); c.Target != state.TargetRunning {
		t.Fatalf("stored target became %s", c.Target)
	}
	if err := w.DeleteConnector(ctx, "a"); err != nil {
		t.Fatal(err)
	}
}

// TestConnectorNameRules: names travel in URLs, metric labels and store
// keys; bad ones get a 400 naming the field.
func TestConnectorNameRules(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	for name, want := range map[string]string{
		strings.Repeat("n", 201): "must be at most 200 bytes long",
		"..":                     `must not be "." or ".."`,
		`a\b`:                    `must not contain '/' or '\'`,
		"bad\xff":                "must be valid UTF-8",
		" lead":                  "whitespace",
		"tab\there":              "control characters",
	} {
		_, err := w.CreateConnector(context.Background(), name, with(baseConfig(name), "name", name), state.TargetStopped)
		var ve *api.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Field != "name" || !strings.Contains(ve.Fields[0].Message, want) {
			t.Errorf("name %q: got %v, want a field error on name: %s", name, err, want)
		}
	}
	if _, err := w.CreateConnector(context.Background(), "orders-cdc.v2 (eu)", with(baseConfig("ok"), "name", "orders-cdc.v2 (eu)"), state.TargetStopped); err != nil {
		t.Fatalf("a plain name was refused: %v", err)
	}
}

// TestUnknownKeysAreRefused: a typo under a plugin's prefix is not stored
// and ignored (and, being undeclared, shown in plain text): it is a 400
// that names the key and the closest declared one.
func TestUnknownKeysAreRefused(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	for key, want := range map[string]string{
		"sink.tokn":                  "unknown configuration key; did you mean sink.token?",
		"sink.pth":                   "unknown configuration key; did you mean sink.path?",
		"source.partitoin":           "unknown configuration key; did you mean source.partition?",
		"source.something.different": "unknown configuration key",
		"transforms.t.vlaue":         "unknown configuration key; did you mean transforms.t.value?",
	} {
		cfg := with(baseConfig("typo"), key, "x", "transforms", "t", "transforms.t.type", "tag", "transforms.t.value", "v")
		_, err := w.CreateConnector(context.Background(), "typo", cfg, state.TargetStopped)
		var ve *api.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != key || ve.Fields[0].Message != want {
			t.Errorf("%s: got %v, want %q", key, err, want)
		}
	}
}
