package worker_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
)

// TestSecretReferencesOnlyWhereSecretsBelong: a connector must not be able
// to copy a file or an environment variable of the worker's host into its
// events (a non-secret field such as the sink's path or the source's
// partition name flows into records and out through the sink).
func TestSecretReferencesOnlyWhereSecretsBelong(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name, key, val string
		wantErr        string // "" = accepted
	}{
		{"env in a secret field", "sink.token", "${env:HOME}", ""},
		{"file in a secret field", "source.password", "${file:/etc/ferry/db.properties:pw}", ""},
		{"dir in a secret field", "source.password", "${dir:/var/run/secrets/db:password}", ""},
		{"env in a data field", "source.partition", "${env:HOME}", "secret references resolve only in secret fields"},
		{"file in a data field", "sink.path", "${file:/etc/passwd:root}", "secret references resolve only in secret fields"},
		{"embedded in a data field", "source.partition", "p-${dir:/etc:hostname}", "secret references resolve only in secret fields"},
		{"in the envelope", "errors.retry.timeout", "${env:T}", "secret references resolve only in secret fields"},
		{"undeclared key named like a secret", "source.api.key", "k", "unknown configuration key"},
		{"undeclared password", "sink.client.sasl.password", "pw", "unknown configuration key"},
	} {
		_, err := w.CreateConnector(ctx, "refs", with(baseConfig("refs"), tc.key, tc.val), state.TargetStopped)
		var ve *api.ValidationError
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.wantErr != "" && (!errors.As(err, &ve) || ve.Fields[0].Field != tc.key || !strings.Contains(ve.Fields[0].Message, tc.wantErr)):
			t.Errorf("%s: got %v, want a field error on %s: %s", tc.name, err, tc.key, tc.wantErr)
		}
		_ = w.DeleteConnector(ctx, "refs")
	}

	// A secret value mixing a reference with literal text is redacted
	// whole: its literal part may be the secret.
	if _, err := w.CreateConnector(ctx, "mixed", with(baseConfig("mixed"), "sink.token", "${env:HOME}Lit3ralTail"), state.TargetStopped); err != nil {
		t.Fatal(err)
	}
	info, _ := w.ConnectorInfo(ctx, "mixed")
	if got := info.Config["sink.token"]; got != api.Redacted {
		t.Errorf("mixed reference shown as %q", got)
	}
}

// TestSecretSourcesAllowList: with an allow-list, only the listed
// variables and paths resolve, in any field; links out of an allowed
// directory are refused when the task starts.
func TestSecretSourcesAllowList(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secrets, "password"), []byte("dir-Secret-77"), 0o600); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "outside")
	if err := os.WriteFile(outside, []byte("not-for-you"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(secrets, "escape")); err != nil {
		t.Fatal(err)
	}
	fakes := newHerdFakes()
	w := startHerd(t, fakes, nil, func(c *worker.Config) {
		c.SecretSources = worker.SecretSources{EnvPrefixes: []string{"FERRY_ALLOWED_"}, Paths: []string{secrets}}
	})
	ctx := context.Background()
	for _, tc := range []struct {
		name, key, val string
		ok             bool
	}{
		{"allowed dir key in a secret field", "source.password", "${dir:" + secrets + ":password}", true},
		{"allowed path in a data field", "source.partition", "${dir:" + secrets + ":password}", true},
		{"allowed env prefix", "sink.token", "${env:FERRY_ALLOWED_X}", true},
		{"other env", "sink.token", "${env:HOME}", false},
		{"file outside", "sink.token", "${file:/etc/passwd:root}", false},
		{"dot-dot out", "sink.token", "${file:" + secrets + "/../outside:k}", false},
	} {
		_, err := w.CreateConnector(ctx, "allow", with(baseConfig("allow"), tc.key, tc.val), state.TargetStopped)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "outside the secret sources") {
			t.Errorf("%s: %v", tc.name, err)
		}
		_ = w.DeleteConnector(ctx, "allow")
	}

	// The ${dir:} value reaches the plugin.
	if _, err := w.CreateConnector(ctx, "dirpw", with(baseConfig("dirpw"), "source.password", "${dir:"+secrets+":password}"), state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "dirpw", "RUNNING", "RUNNING")
	fakes.mu.Lock()
	got := fakes.seenSource[len(fakes.seenSource)-1].Config.String("password")
	fakes.mu.Unlock()
	if got != "dir-Secret-77" {
		t.Errorf("password = %q", got)
	}

	// A link inside the allowed directory that leads out is refused when
	// the task starts.
	if _, err := w.CreateConnector(ctx, "escape", with(baseConfig("escape"), "source.password", "${dir:"+secrets+":escape}"), state.TargetRunning); err != nil {
		t.Fatal(err)
	}
	w.waitStates(t, "escape", "RUNNING", "FAILED")
	ts, _ := w.TaskStatus(ctx, "escape", 0)
	if !strings.Contains(ts.Trace, "leads outside the secret sources") || strings.Contains(ts.Trace, "not-for-you") {
		t.Errorf("trace: %s", ts.Trace)
	}
}
