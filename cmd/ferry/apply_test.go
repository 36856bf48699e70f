package main

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/client"
)

// TestApplyAgainstStandalone drives `ferry connectors apply` against a real
// standalone worker: create, unchanged, dry-run diff, update, validation
// failures, prune, file errors and hidden secrets.
func TestApplyAgainstStandalone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := startInProcessWorker(t, dir)
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conns := filepath.Join(dir, "conns")
	if err := os.Mkdir(conns, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(conns, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cli := func(wantCode int, args ...string) string {
		t.Helper()
		stdout, stderr, code := runCLI(t, url, "", args...)
		if code != wantCode {
			t.Fatalf("ferry %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, stdout, stderr)
		}
		return stdout + stderr
	}
	wantLines := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !slices.Contains(strings.Split(out, "\n"), w) {
				t.Fatalf("output lacks the line %q:\n%s", w, out)
			}
		}
	}
	config := func(name string) map[string]string {
		t.Helper()
		cfg, err := c.Config(ctx, name)
		if err != nil {
			t.Fatalf("config of %s: %v", name, err)
		}
		return cfg
	}

	write("orders.yaml", "name: orders\nconfig:\n  source: generator\n  source.rate: 10\n  sink: drop\n  tasks.max: 1\n")
	write("billing.json", `{"name": "billing", "initial_state": "PAUSED",
  "config": {"source": "generator", "source.rate": 5, "sink": "drop"}}`)
	write("notes.txt", "not a connector file")

	out := cli(0, "connectors", "apply", "-f", conns)
	wantLines(out,
		"connector billing: created ("+filepath.Join(conns, "billing.json")+")",
		"connector orders: created ("+filepath.Join(conns, "orders.yaml")+")")
	if got := config("orders"); got["source.rate"] != "10" || got["tasks.max"] != "1" {
		t.Errorf("orders config after create: %v", got)
	}
	waitState(t, c, "billing", "PAUSED")

	// Nothing changed: nothing is written.
	out = cli(0, "connectors", "apply", "-f", conns)
	wantLines(out, "connector billing: unchanged ("+filepath.Join(conns, "billing.json")+")",
		"connector orders: unchanged ("+filepath.Join(conns, "orders.yaml")+")")

	// A changed file: the dry run shows the diff and changes nothing.
	write("orders.yaml", "name: orders\nconfig:\n  source: generator\n  source.batch.size: 16\n  sink: drop\n  tasks.max: 2\n")
	before := config("orders")
	out = cli(0, "connectors", "apply", "-f", filepath.Join(conns, "orders.yaml"), "--dry-run")
	wantLines(out,
		"connector orders: would be updated ("+filepath.Join(conns, "orders.yaml")+")",
		"  + source.batch.size: 16",
		"  - source.rate: 10",
		"  ~ tasks.max: 1 -> 2",
		"dry run: nothing was changed")
	if got := config("orders"); !maps.Equal(got, before) {
		t.Fatalf("dry run changed the config: %v, was %v", got, before)
	}
	out = cli(0, "connectors", "apply", "-f", filepath.Join(conns, "orders.yaml"), "-o", "json")
	var results []applyResult
	if err := json.Unmarshal([]byte(out), &results); err != nil || len(results) != 1 || results[0].Action != applyUpdated || len(results[0].Changes) != 3 {
		t.Fatalf("apply -o json: %v\n%s", err, out)
	}
	want := map[string]string{"name": "orders", "source": "generator", "source.batch.size": "16", "sink": "drop", "tasks.max": "2"}
	got := config("orders")
	delete(got, connectorClassKey)
	if !maps.Equal(got, want) {
		t.Errorf("orders config after update = %v, want %v (PUT replaces the whole config)", got, want)
	}

	// An invalid config: the dry run reports the worker's validation and
	// exits non-zero; a real apply is refused by the worker.
	write("orders.yaml", "name: orders\nconfig:\n  source: generator\n  source.batch.size: 0\n  sink: drop\n")
	out = cli(1, "connectors", "apply", "-f", filepath.Join(conns, "orders.yaml"), "--dry-run")
	if !strings.Contains(out, "connector orders: failed") || !strings.Contains(out, "source.batch.size") || !strings.Contains(out, "1 of 1 connector(s) failed") {
		t.Errorf("dry run of an invalid config:\n%s", out)
	}
	out = cli(1, "connectors", "apply", "-f", filepath.Join(conns, "orders.yaml"))
	if !strings.Contains(out, "connector orders: failed") || !strings.Contains(out, "HTTP 400") {
		t.Errorf("apply of an invalid config:\n%s", out)
	}
	if got := config("orders"); got["tasks.max"] != "2" {
		t.Errorf("a refused apply changed the config: %v", got)
	}
	write("orders.yaml", "name: orders\nconfig:\n  source: generator\n  source.batch.size: 16\n  sink: drop\n  tasks.max: 2\n")

	// Prune only with the flag; its dry run deletes nothing.
	cli(0, "connectors", "create", "-f", writeTemp(t, dir, "stray.yaml", "name: stray\nsource: generator\nsource.rate: 1\nsink: drop\n"))
	wantLines(cli(0, "connectors", "apply", "-f", conns), "connector orders: unchanged ("+filepath.Join(conns, "orders.yaml")+")")
	if _, err := c.Config(ctx, "stray"); err != nil {
		t.Fatalf("apply without --prune touched stray: %v", err)
	}
	wantLines(cli(0, "connectors", "apply", "-f", conns, "--prune", "--dry-run"), "connector stray: would be deleted")
	if _, err := c.Config(ctx, "stray"); err != nil {
		t.Fatalf("a dry-run prune deleted stray: %v", err)
	}
	wantLines(cli(0, "connectors", "apply", "-f", conns, "--prune"), "connector stray: deleted")
	if _, err := c.Config(ctx, "stray"); !client.IsNotFound(err) {
		t.Fatalf("stray after prune: err = %v, want 404", err)
	}

	// A literal secret is hidden by the worker, so it cannot be compared:
	// apply says so and sends it again, without printing it.
	write("secret.yaml", "name: secretive\ninitial_state: STOPPED\nconfig:\n  source: generator\n  sink: http\n"+
		"  sink.url: http://127.0.0.1:9/\n  sink.auth: basic\n  sink.auth.username: u\n  sink.auth.password: s3cret-value\n")
	cli(0, "connectors", "apply", "-f", filepath.Join(conns, "secret.yaml"))
	if got := config("secretive")["sink.auth.password"]; got != api.Redacted {
		t.Fatalf("stored secret shown as %q", got)
	}
	out = cli(0, "connectors", "apply", "-f", filepath.Join(conns, "secret.yaml"), "--dry-run")
	wantLines(out, "  ~ sink.auth.password: [hidden] (a hidden secret cannot be compared; sent again)")
	if strings.Contains(out, "s3cret-value") {
		t.Errorf("apply printed the secret:\n%s", out)
	}

	// A file in Kafka Connect's words: connector.class names the source.
	// The worker stores source=generator, and a second apply finds nothing
	// to change.
	write("kc.json", `{"name": "kc", "config": {"connector.class": "generator", "source.rate": "1", "sink": "drop"}}`)
	wantLines(cli(0, "connectors", "apply", "-f", filepath.Join(conns, "kc.json")), "connector kc: created ("+filepath.Join(conns, "kc.json")+")")
	if got := config("kc"); got["source"] != "generator" {
		t.Errorf("kc stored %v", got)
	}
	wantLines(cli(0, "connectors", "apply", "-f", filepath.Join(conns, "kc.json")), "connector kc: unchanged ("+filepath.Join(conns, "kc.json")+")")
	write("kc.json", `{"name": "kc", "config": {"connector.class": "file", "source.rate": "1"}}`)
	out = cli(1, "connectors", "apply", "-f", filepath.Join(conns, "kc.json"))
	if !strings.Contains(out, "connector kc: failed") || !strings.Contains(out, "names both a source and a sink plugin") {
		t.Errorf("an ambiguous connector.class:\n%s", out)
	}
	if err := os.Remove(filepath.Join(conns, "kc.json")); err != nil {
		t.Fatal(err)
	}

	// File errors stop apply before it writes anything.
	write("broken.json", "{\n  \"name\": \"broken\",\n  \"config\": {\"source\": \"generator\",}\n}\n")
	out = cli(1, "connectors", "apply", "-f", conns)
	if !strings.Contains(out, filepath.Join(conns, "broken.json")+": JSON syntax error at line 3, column 36:") {
		t.Errorf("broken.json:\n%s", out)
	}
	if err := os.Remove(filepath.Join(conns, "broken.json")); err != nil {
		t.Fatal(err)
	}
	write("again.yaml", "name: orders\nsource: generator\nsink: drop\n")
	out = cli(1, "connectors", "apply", "-f", conns)
	if !strings.Contains(out, `connector "orders" is in both`) {
		t.Errorf("two files for one connector:\n%s", out)
	}
	out = cli(1, "connectors", "apply", "-f", filepath.Join(dir, "missing"))
	if !strings.Contains(out, "no such file") {
		t.Errorf("missing path:\n%s", out)
	}
}

func writeTemp(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitState waits until the connector reports state.
func waitState(t *testing.T, c *client.Client, name, state string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := c.Status(context.Background(), name)
		if err == nil && st.Connector.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach %s: %+v, %v", name, state, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConfigDiff: what apply counts as a change, and how it shows one.
func TestConfigDiff(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	tests := []struct {
		name               string
		current, want, got map[string]string
		diff               []applyDelta
	}{
		{"equal", map[string]string{"a": "1"}, map[string]string{"a": "1"}, nil, nil},
		{"server adds connector.class", map[string]string{"a": "1", connectorClassKey: "ferry"}, map[string]string{"a": "1"}, nil, nil},
		{"file sets connector.class", map[string]string{connectorClassKey: "ferry"}, map[string]string{connectorClassKey: "generator"}, nil,
			[]applyDelta{{Key: connectorClassKey, From: s("ferry"), To: s("generator")}}},
		{"added removed changed", map[string]string{"a": "1", "b": "2"}, map[string]string{"b": "3", "c": "4"}, nil,
			[]applyDelta{{Key: "a", From: s("1")}, {Key: "b", From: s("2"), To: s("3")}, {Key: "c", To: s("4")}}},
		{"hidden secret", map[string]string{"p": api.Redacted}, map[string]string{"p": "x"}, nil,
			[]applyDelta{{Key: "p", From: s(api.Redacted), To: s(api.Redacted), Hidden: true}}},
		{"the marker itself is no change", map[string]string{"p": api.Redacted}, map[string]string{"p": api.Redacted}, nil, nil},
		{"a new secret is shown as the worker shows it", map[string]string{}, map[string]string{"p": "x"}, map[string]string{"p": api.Redacted},
			[]applyDelta{{Key: "p", To: s(api.Redacted)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := configDiff(tt.current, tt.want, tt.got)
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tt.diff)
			if string(gj) != string(wj) {
				t.Errorf("diff = %s, want %s", gj, wj)
			}
		})
	}
}
