package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWorkerConfigFile: --config fills the flags the command line left
// unset; lists join with the flag's separator; unknown keys are refused.
func TestWorkerConfigFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		args    []string
		want    map[string]string
		wantErr string
	}{
		{"values and lists", "cluster: c1\njoin: [127.0.0.1:1, 127.0.0.1:2]\nrocketmq: [a:1, b:2]\ngrace: 0s\n", nil,
			map[string]string{"cluster": "c1", "join": "127.0.0.1:1,127.0.0.1:2", "rocketmq": "a:1;b:2", "grace": "0s"}, ""},
		{"command line wins", "cluster: c1\n", []string{"--cluster", "c2"}, map[string]string{"cluster": "c2"}, ""},
		{"unknown key", "clusterr: c1\n", nil, nil, `unknown key "clusterr"`},
		{"bad value", "grace: soon\n", nil, nil, "grace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "w.yaml")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := newWorkerCmd()
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			err := applyConfigFile(cmd, path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got := cmd.Flags().Lookup(k).Value.String(); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestWorkerFlagBounds: out-of-bounds values are refused before the
// worker starts.
func TestWorkerFlagBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"leader wait zero", []string{"--leader-wait", "0s"}, "--leader-wait"},
		{"leader wait negative", []string{"--leader-wait", "-5s"}, "--leader-wait"},
		{"leader wait huge", []string{"--leader-wait", "2540400h"}, "--leader-wait"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := parseWorkerFlags(t, append([]string{"--cluster", "c", "--data-dir", t.TempDir(), "--rocketmq", "127.0.0.1:1"}, tc.args...))
			err := o.check()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("check: %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// parseWorkerFlags parses args as `ferry worker`'s flags.
func parseWorkerFlags(t *testing.T, args []string) workerOptions {
	t.Helper()
	cmd, o := workerCmd()
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return *o
}
