package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/client"
	ferryworker "github.com/ferryhq/ferry/worker"
)

// maxApplyFiles bounds how many connector files one apply reads from its
// directories: a typo that points -f at a home directory must not send
// thousands of requests.
const maxApplyFiles = 1000

// connectorClassKey is Kafka Connect's connector class key. A worker
// returns it in config responses without storing it, so apply does not
// count it as a difference; a file's is resolved first, as the worker
// resolves it.
const connectorClassKey = ferryworker.ConnectorClassKey

// Actions apply reports per connector.
const (
	applyCreated   = "created"
	applyUpdated   = "updated"
	applyUnchanged = "unchanged"
	applyDeleted   = "deleted"
	applyFailed    = "failed"
)

// applyResult is what apply did (or, with --dry-run, would do) to one
// connector; --output json prints the list of them.
type applyResult struct {
	Connector string       `json:"connector"`
	File      string       `json:"file,omitempty"`
	Action    string       `json:"action"`
	DryRun    bool         `json:"dry_run,omitempty"`
	Changes   []applyDelta `json:"changes,omitempty"`
	Error     string       `json:"error,omitempty"`
}

// applyDelta is one key that differs between the worker and the file.
// Values are shown as the worker shows them: a secret is "[hidden]".
type applyDelta struct {
	Key  string  `json:"key"`
	From *string `json:"from"` // nil: the key is new
	To   *string `json:"to"`   // nil: the key goes
	// Hidden: the worker hides the stored value, so whether it changed
	// cannot be told; apply sends it again.
	Hidden bool `json:"hidden,omitempty"`
}

// applyFile is one connector read from a file.
type applyFile struct {
	path string
	req  client.CreateRequest
}

func newApplyCmd() *cobra.Command {
	var files []string
	var dryRun, prune bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR",
		Short: "Create or update connectors from JSON or YAML files (declarative; --dry-run shows the diff)",
		Long: `Apply makes each connector in the files exist with exactly the file's config:
a missing connector is created (with the file's initial_state), one whose
config differs is updated (PUT /connectors/{name}/config, Kafka Connect's
semantics: the file's config replaces the stored one), and an equal one is
left alone. A directory contributes its *.json, *.yaml and *.yml files.

--dry-run changes nothing: it validates every config through the worker's
validate endpoint and shows what would change. --prune also deletes the
worker's connectors that no file names (only with the flag).

A secret the worker hides ([hidden]) cannot be compared, so a connector whose
file holds a literal secret is always updated; give secrets as ${env:..} or
${file:..} references to make apply idempotent.`,
		Args: cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, s *session, _ []string) error {
			conns, err := readApplyFiles(files, cmd.InOrStdin())
			if err != nil {
				return err
			}
			results := applyConnectors(cmd.Context(), s.client, conns, dryRun)
			if prune {
				pruned, err := pruneConnectors(cmd.Context(), s.client, conns, dryRun)
				results = append(results, pruned...)
				if err != nil {
					_ = printApply(s, results)
					return err
				}
			}
			if err := printApply(s, results); err != nil {
				return err
			}
			failed := 0
			for _, r := range results {
				if r.Action == applyFailed {
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("apply: %d of %d connector(s) failed", failed, len(results))
			}
			return nil
		}),
	}
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, "connector file or directory, JSON or YAML (- for stdin); repeatable")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate and show the changes without making them")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete the worker's connectors that no file names")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// readApplyFiles reads every connector named by the -f arguments: files,
// directories (their *.json, *.yaml, *.yml, sorted) and "-". Two files
// naming one connector are an error, not a silent last-wins.
func readApplyFiles(args []string, stdin io.Reader) ([]applyFile, error) {
	var paths []string
	for _, a := range args {
		if a == "-" {
			paths = append(paths, a)
			continue
		}
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			paths = append(paths, a)
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".json", ".yaml", ".yml":
				if e.Type().IsRegular() {
					paths = append(paths, filepath.Join(a, e.Name()))
					n++
				}
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no *.json, *.yaml or *.yml file", a)
		}
	}
	if len(paths) > maxApplyFiles {
		return nil, fmt.Errorf("apply: %d files; at most %d per run", len(paths), maxApplyFiles)
	}
	seen := map[string]string{}
	out := make([]applyFile, 0, len(paths))
	for _, p := range paths {
		req, err := readConnectorFile(p, stdin)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[req.Name]; dup {
			return nil, fmt.Errorf("connector %q is in both %s and %s", req.Name, prev, p)
		}
		seen[req.Name] = p
		out = append(out, applyFile{path: p, req: req})
	}
	return out, nil
}

// applyConnectors brings each connector to its file's config, one at a
// time; a failure is reported and the others still go ahead.
func applyConnectors(ctx context.Context, c *client.Client, conns []applyFile, dryRun bool) []applyResult {
	out := make([]applyResult, 0, len(conns))
	var plugins []ferryworker.PluginInfo
	for _, f := range conns {
		r := applyResult{Connector: f.req.Name, File: f.path, DryRun: dryRun}
		action, changes, err := applyOne(ctx, c, f.req, dryRun, func() ([]ferryworker.PluginInfo, error) {
			var err error
			if plugins == nil {
				plugins, err = c.Plugins(ctx)
			}
			return plugins, err
		})
		r.Action, r.Changes = action, changes
		if err != nil {
			r.Action, r.Error = applyFailed, err.Error()
		}
		out = append(out, r)
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

func applyOne(ctx context.Context, c *client.Client, req client.CreateRequest, dryRun bool,
	plugins func() ([]ferryworker.PluginInfo, error)) (string, []applyDelta, error) {
	want := maps.Clone(req.Config)
	want["name"] = req.Name
	if _, ok := want[connectorClassKey]; ok {
		// Compare what the worker will store: connector.class resolved
		// into source= or sink=, as the worker resolves it.
		ps, err := plugins()
		if err != nil {
			return "", nil, err
		}
		if err := ferryworker.ApplyConnectorClass(ps, want); err != nil {
			return "", nil, err
		}
	}
	current, err := c.Config(ctx, req.Name)
	exists := err == nil
	if err != nil && !client.IsNotFound(err) {
		return "", nil, err
	}
	if exists {
		if !configDiffers(current, want) {
			return applyUnchanged, nil, nil
		}
	}
	// The worker's view of the new config, for the diff: its validation
	// (dry run) or its answer to the write shows secrets as [hidden].
	var shown map[string]string
	switch {
	case dryRun:
		shown, err = validateForApply(ctx, c, want)
	case !exists:
		_, err = c.CreateConnector(ctx, req)
		if client.IsConflict(err) {
			err = fmt.Errorf("%w (created meanwhile, or the cluster is rebalancing; run apply again)", err)
		}
	default:
		// initial_state applies to creation only, as in Kafka Connect.
		info, _, perr := c.PutConfig(ctx, req.Name, want)
		shown, err = info.Config, perr
	}
	if err != nil {
		return "", nil, err
	}
	if !exists {
		return applyCreated, nil, nil
	}
	return applyUpdated, configDiff(current, want, shown), nil
}

// configDiffers reports whether the worker's config (secrets hidden) may
// differ from want. A hidden value cannot be compared, so it counts as a
// difference unless the file holds the marker itself.
func configDiffers(current, want map[string]string) bool {
	return len(configDiff(current, want, nil)) > 0
}

// configDiff lists the keys that differ, sorted. shown is the worker's
// rendering of want (nil: none), so a secret of want that the worker
// hides is printed hidden too.
func configDiff(current, want, shown map[string]string) []applyDelta {
	keys := slices.Sorted(maps.Keys(current))
	for k := range want {
		if _, ok := current[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []applyDelta
	for _, k := range keys {
		cur, inCur := current[k]
		w, inWant := want[k]
		if !inWant && k == connectorClassKey {
			continue
		}
		if inCur && inWant && cur == w {
			continue
		}
		d := applyDelta{Key: k}
		if inCur {
			d.From = &cur
		}
		if inWant {
			show := w
			if v, ok := shown[k]; ok && v == api.Redacted || cur == api.Redacted {
				show = api.Redacted
			}
			d.To = &show
		}
		d.Hidden = inCur && inWant && cur == api.Redacted
		out = append(out, d)
	}
	return out
}

// validateForApply checks cfg with the worker's validate endpoint,
// against its source plugin (else its sink), and returns the values as
// the worker shows them. Any field error fails the connector.
func validateForApply(ctx context.Context, c *client.Client, cfg map[string]string) (map[string]string, error) {
	plugin := cmp(cfg["source"], cfg["sink"])
	if plugin == "" {
		return nil, errors.New("the config names no source= or sink= plugin")
	}
	infos, err := c.Validate(ctx, plugin, cfg)
	if err != nil {
		return nil, err
	}
	shown := map[string]string{}
	var problems []string
	for _, ci := range infos.Configs {
		name := cmp(ci.Value.Name, ci.Definition.Name)
		if ci.Value.Value != nil {
			shown[name] = *ci.Value.Value
		}
		for _, e := range ci.Value.Errors {
			problems = append(problems, name+": "+e)
		}
	}
	if infos.ErrorCount > 0 {
		if len(problems) == 0 {
			problems = append(problems, fmt.Sprintf("%d error(s)", infos.ErrorCount))
		}
		return nil, fmt.Errorf("invalid config: %s", strings.Join(problems, "; "))
	}
	return shown, nil
}

// pruneConnectors deletes (or, in a dry run, names) the worker's
// connectors that no file holds.
func pruneConnectors(ctx context.Context, c *client.Client, conns []applyFile, dryRun bool) ([]applyResult, error) {
	names, err := c.Connectors(ctx)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	keep := map[string]bool{}
	for _, f := range conns {
		keep[f.req.Name] = true
	}
	var out []applyResult
	for _, n := range slices.Sorted(slices.Values(names)) {
		if keep[n] {
			continue
		}
		r := applyResult{Connector: n, Action: applyDeleted, DryRun: dryRun}
		if !dryRun {
			if err := c.DeleteConnector(ctx, n); err != nil && !client.IsNotFound(err) {
				r.Action, r.Error = applyFailed, err.Error()
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func printApply(s *session, results []applyResult) error {
	if s.json {
		if results == nil {
			results = []applyResult{}
		}
		b, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		_, err = s.out.Write(append(b, '\n'))
		return err
	}
	var b strings.Builder
	dry := false
	for _, r := range results {
		dry = dry || r.DryRun
		action := r.Action
		if r.DryRun && r.Action != applyUnchanged && r.Action != applyFailed {
			action = "would be " + action
		}
		fmt.Fprintf(&b, "connector %s: %s", r.Connector, action)
		if r.File != "" {
			fmt.Fprintf(&b, " (%s)", r.File)
		}
		if r.Error != "" {
			fmt.Fprintf(&b, ": %s", oneLine(r.Error))
		}
		b.WriteByte('\n')
		for _, d := range r.Changes {
			switch {
			case d.From == nil:
				fmt.Fprintf(&b, "  + %s: %s\n", d.Key, oneLine(*d.To))
			case d.To == nil:
				fmt.Fprintf(&b, "  - %s: %s\n", d.Key, oneLine(*d.From))
			case d.Hidden:
				fmt.Fprintf(&b, "  ~ %s: %s (a hidden secret cannot be compared; sent again)\n", d.Key, api.Redacted)
			default:
				fmt.Fprintf(&b, "  ~ %s: %s -> %s\n", d.Key, oneLine(*d.From), oneLine(*d.To))
			}
		}
	}
	if dry {
		b.WriteString("dry run: nothing was changed\n")
	}
	_, err := io.WriteString(s.out, b.String())
	return err
}

// hintError is an error with advice for the person at the terminal,
// printed on a line of its own after the error.
type hintError struct {
	err  error
	hint string
}

func hinted(err error, hint string) error { return &hintError{err: err, hint: hint} }

func (e *hintError) Error() string { return e.err.Error() + " (hint: " + e.hint + ")" }
func (e *hintError) Unwrap() error { return e.err }
