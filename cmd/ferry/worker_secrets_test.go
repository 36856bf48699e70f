package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferryhq/ferry/worker/cluster"
)

func testKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func writeSecret(t *testing.T, path, data string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWorkerSecrets: the gossip keyring and the RocketMQ credentials come
// from one place each (file, environment, or the deprecated flag, which
// warns), with hostile values refused without echoing them.
func TestWorkerSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k1, k2 := testKey(t), testKey(t)
	b1, b2 := base64.StdEncoding.EncodeToString(k1), base64.StdEncoding.EncodeToString(k2)
	keyFile := writeSecret(t, filepath.Join(dir, "gossip.keys"), "# primary first\n"+b2+"\n"+b1+"\n", 0o600)
	openKeyFile := writeSecret(t, filepath.Join(dir, "open.keys"), b1+"\n", 0o644)
	badKeyFile := writeSecret(t, filepath.Join(dir, "bad.keys"), "s3cr3t-not-base64\n", 0o600)
	secretFile := writeSecret(t, filepath.Join(dir, "rmq.secret"), "rmq-secret\n", 0o600)
	spaceSecret := writeSecret(t, filepath.Join(dir, "space.secret"), "two words\n", 0o600)
	hugeSecret := writeSecret(t, filepath.Join(dir, "huge.secret"), strings.Repeat("x", maxSecretKeyFile+1), 0o600)
	emptySecret := writeSecret(t, filepath.Join(dir, "empty.secret"), "\n", 0o600)

	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		keys     [][]byte
		access   string
		secret   string
		reload   bool
		warn     string // substring of a warning
		wantErr  string
		noSecret string // must not appear in the error
	}{
		{"nothing", nil, nil, nil, "", "", false, "", "", ""},
		{"key file", []string{"--gossip-key-file", keyFile}, nil, [][]byte{k2, k1}, "", "", true, "", "", ""},
		{"key file readable by others", []string{"--gossip-key-file", openKeyFile}, nil, [][]byte{k1}, "", "", true, "chmod 600", "", ""},
		{"key file missing", []string{"--gossip-key-file", filepath.Join(dir, "nope")}, nil, nil, "", "", false, "", "no such file", ""},
		{"key file broken", []string{"--gossip-key-file", badKeyFile}, nil, nil, "", "", false, "", "line 1 is not base64", "s3cr3t"},
		{"env keys", nil, map[string]string{envGossipKey: b1 + "," + b2}, [][]byte{k1, k2}, "", "", false, "", "", ""},
		{"env key hostile", nil, map[string]string{envGossipKey: "c2VjcmV0"}, nil, "", "", false, "", "6 bytes", "c2VjcmV0"},
		{"deprecated flag", []string{"--gossip-key", b1}, nil, [][]byte{k1}, "", "", false, "DEPRECATED", "", ""},
		{"flag not base64", []string{"--gossip-key", "@@secret@@"}, nil, nil, "", "", false, "", "not base64", "@@secret@@"},
		{"two sources", []string{"--gossip-key-file", keyFile}, map[string]string{envGossipKey: b1}, nil, "", "", false, "", "one way", ""},
		{"credentials from file", []string{"--rocketmq-access-key", "ak", "--rocketmq-secret-key-file", secretFile}, nil, nil, "ak", "rmq-secret", false, "", "", ""},
		{"credentials from env", nil, map[string]string{envRocketMQAccessKey: "ak", envRocketMQSecretKey: "sk"}, nil, "ak", "sk", false, "", "", ""},
		{"flag access key wins over env", []string{"--rocketmq-access-key", "ak2"}, map[string]string{envRocketMQAccessKey: "ak", envRocketMQSecretKey: "sk"}, nil, "ak2", "sk", false, "", "", ""},
		{"secret without access key", []string{"--rocketmq-secret-key-file", secretFile}, nil, nil, "", "", false, "", "needs both", "rmq-secret"},
		{"access key without secret", []string{"--rocketmq-access-key", "ak"}, nil, nil, "", "", false, "", "needs both", ""},
		{"secret twice", []string{"--rocketmq-access-key", "ak", "--rocketmq-secret-key-file", secretFile}, map[string]string{envRocketMQSecretKey: "sk"}, nil, "", "", false, "", "one way", ""},
		{"secret with a space", []string{"--rocketmq-access-key", "ak", "--rocketmq-secret-key-file", spaceSecret}, nil, nil, "", "", false, "", "spaces", "two words"},
		{"secret file huge", []string{"--rocketmq-access-key", "ak", "--rocketmq-secret-key-file", hugeSecret}, nil, nil, "", "", false, "", "larger than", ""},
		{"secret file empty", []string{"--rocketmq-access-key", "ak", "--rocketmq-secret-key-file", emptySecret}, nil, nil, "", "", false, "", "empty", ""},
		{"access key huge", []string{"--rocketmq-access-key", strings.Repeat("a", maxAccessKey+1)}, map[string]string{envRocketMQSecretKey: "sk"}, nil, "", "", false, "", "at most 256", ""},
		{"access key with newline", nil, map[string]string{envRocketMQAccessKey: "a\nb", envRocketMQSecretKey: "sk"}, nil, "", "", false, "", "control", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := parseWorkerFlags(t, tc.args)
			s, err := o.resolveSecrets(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if tc.noSecret != "" && strings.Contains(err.Error(), tc.noSecret) {
					t.Errorf("the error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.gossipKeys) != len(tc.keys) {
				t.Fatalf("%d gossip keys, want %d", len(s.gossipKeys), len(tc.keys))
			}
			for i := range tc.keys {
				if !bytes.Equal(s.gossipKeys[i], tc.keys[i]) {
					t.Errorf("gossip key %d differs", i)
				}
			}
			if (s.keyFile != "") != tc.reload {
				t.Errorf("reloadable key file %q, want %v", s.keyFile, tc.reload)
			}
			if s.creds.AccessKey != tc.access || s.creds.SecretKey != tc.secret {
				t.Errorf("credentials %q/%q, want %q/%q", s.creds.AccessKey, s.creds.SecretKey, tc.access, tc.secret)
			}
			warnings := strings.Join(s.warnings, "\n")
			if tc.warn == "" && warnings != "" || !strings.Contains(warnings, tc.warn) {
				t.Errorf("warnings %q, want %q", warnings, tc.warn)
			}
			for _, w := range s.warnings {
				for _, k := range tc.keys {
					if strings.Contains(w, base64.StdEncoding.EncodeToString(k)) {
						t.Errorf("a warning shows a key: %s", w)
					}
				}
			}
		})
	}
}

// TestGossipKeyOnCommandLineWarnsLoudly: the deprecated flag on the
// command line says ps shows it; from --config it says only deprecated.
func TestGossipKeyOnCommandLineWarnsLoudly(t *testing.T) {
	t.Parallel()
	key := base64.StdEncoding.EncodeToString(testKey(t))
	cmd, o := workerCmd()
	if err := cmd.ParseFlags([]string{"--gossip-key", key}); err != nil {
		t.Fatal(err)
	}
	o.gossipKeyOnArgs = cmd.Flags().Changed("gossip-key") // as PreRunE does
	s, err := o.resolveSecrets(func(string) string { return "" })
	if err != nil || len(s.warnings) != 1 || !strings.Contains(s.warnings[0], "(ps)") {
		t.Fatalf("warnings %q, err %v: want one naming ps", s.warnings, err)
	}
	if f := cmd.Flags().Lookup("gossip-key"); !f.Hidden {
		t.Error("--gossip-key is still shown in --help")
	}
}

// fakeKeys records the keyrings the watcher installs.
type fakeKeys struct {
	mu    sync.Mutex
	calls [][][]byte
	fail  bool
}

func (f *fakeKeys) SetKeys(keys [][]byte) (cluster.KeyChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return cluster.KeyChange{}, errors.New("refused")
	}
	f.calls = append(f.calls, keys)
	return cluster.KeyChange{Primary: cluster.KeyID(keys[0])}, nil
}

func (f *fakeKeys) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// TestWatchKeyFile: a changed key file is installed (on its next poll or
// at once on SIGHUP), an unchanged or broken one changes nothing.
func TestWatchKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k1, k2 := testKey(t), testKey(t)
	b1, b2 := base64.StdEncoding.EncodeToString(k1), base64.StdEncoding.EncodeToString(k2)
	path := writeSecret(t, filepath.Join(dir, "gossip.keys"), b1+"\n", 0o600)
	mem := &fakeKeys{}
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchKeyFile(ctx, path, [][]byte{k1}, mem, slog.New(slog.DiscardHandler), hup, time.Hour)
	}()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("not within 5s: %s", what)
			}
		}
	}

	hup <- syscall.SIGHUP // unchanged: nothing installed
	writeSecret(t, path, "garbage\n", 0o600)
	hup <- syscall.SIGHUP // broken: nothing installed, the worker goes on
	writeSecret(t, path, b1+"\n"+b2+"\n", 0o600)
	hup <- syscall.SIGHUP
	waitFor("the two-key ring installed", func() bool { return mem.count() == 1 })
	mem.mu.Lock()
	got := mem.calls[0]
	mem.mu.Unlock()
	if len(got) != 2 || !bytes.Equal(got[0], k1) || !bytes.Equal(got[1], k2) {
		t.Errorf("installed %d keys, want [k1 k2]", len(got))
	}
	hup <- syscall.SIGHUP // the same again: nothing
	writeSecret(t, path, b2+"\n", 0o600)
	hup <- syscall.SIGHUP
	waitFor("the new key alone installed", func() bool { return mem.count() == 2 })
	time.Sleep(50 * time.Millisecond)
	if n := mem.count(); n != 2 {
		t.Errorf("%d installs, want 2 (unchanged and broken files install nothing)", n)
	}
}

// TestWatchKeyFilePolls: without a signal, a changed file is found by
// the poll.
func TestWatchKeyFilePolls(t *testing.T) {
	t.Parallel()
	k1, k2 := testKey(t), testKey(t)
	path := writeSecret(t, filepath.Join(t.TempDir(), "gossip.keys"), base64.StdEncoding.EncodeToString(k1)+"\n", 0o600)
	mem := &fakeKeys{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchKeyFile(ctx, path, [][]byte{k1}, mem, slog.New(slog.DiscardHandler), nil, 10*time.Millisecond)
	}()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond)
	if mem.count() != 0 {
		t.Fatal("an unchanged file was installed")
	}
	writeSecret(t, path, base64.StdEncoding.EncodeToString(k2)+"\n"+base64.StdEncoding.EncodeToString(k1)+"\n", 0o600)
	for deadline := time.Now().Add(5 * time.Second); mem.count() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the changed file was not installed by the poll")
		}
	}
}
