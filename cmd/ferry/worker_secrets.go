package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ferryhq/ferry/state/rocketmq"
	"github.com/ferryhq/ferry/worker/cluster"
)

// Environment variables `ferry worker` reads secrets from, so that they
// never appear on its command line (which every local user can read in
// ps).
const (
	// envGossipKey holds the gossip keyring: base64 keys separated by
	// commas, the first primary. It cannot change while the worker runs;
	// use --gossip-key-file to rotate.
	envGossipKey = "FERRY_GOSSIP_KEY"
	// envRocketMQAccessKey and envRocketMQSecretKey are the store's
	// RocketMQ ACL credentials.
	envRocketMQAccessKey = "FERRY_ROCKETMQ_ACCESS_KEY"
	envRocketMQSecretKey = "FERRY_ROCKETMQ_SECRET_KEY"
)

// Bounds of the credentials.
const (
	maxAccessKey     = 256
	maxSecretKeyFile = 4 << 10
)

// keyFilePoll is how often a worker looks for a changed gossip key file
// (SIGHUP reloads it at once).
const keyFilePoll = 5 * time.Second

// workerSecrets are the secrets a worker starts with and where they came
// from.
type workerSecrets struct {
	gossipKeys [][]byte // nil: gossip is not encrypted
	keyFile    string   // set when the keys come from --gossip-key-file (reloadable)
	creds      rocketmq.Credentials
	warnings   []string // to log once the logger is set up
}

// resolveSecrets reads the gossip keyring and the RocketMQ credentials
// from the one place each is given: a file or the environment, or (for
// the gossip key, deprecated) a flag.
func (o workerOptions) resolveSecrets(getenv func(string) string) (workerSecrets, error) {
	var s workerSecrets
	envKey := getenv(envGossipKey)
	n := 0
	for _, set := range []bool{o.gossipKey != "", o.gossipKeyFile != "", envKey != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return s, fmt.Errorf("give the gossip key one way: --gossip-key-file, %s or (deprecated) --gossip-key", envGossipKey)
	}
	var err error
	switch {
	case o.gossipKeyFile != "":
		if s.gossipKeys, err = cluster.ReadKeyFile(o.gossipKeyFile); err != nil {
			return s, fmt.Errorf("--gossip-key-file: %w", err)
		}
		s.keyFile = o.gossipKeyFile
		if w := permissive(o.gossipKeyFile); w != "" {
			s.warnings = append(s.warnings, "--gossip-key-file "+w)
		}
	case envKey != "":
		if s.gossipKeys, err = cluster.ParseKeys([]byte(strings.ReplaceAll(envKey, ",", "\n"))); err != nil {
			return s, fmt.Errorf("%s: %w", envGossipKey, err)
		}
	case o.gossipKey != "":
		key, err := base64.StdEncoding.DecodeString(o.gossipKey)
		if err != nil {
			return s, errors.New("--gossip-key: not base64")
		}
		s.gossipKeys = [][]byte{key}
		where := "in --config"
		if o.gossipKeyOnArgs {
			where = "on the command line, where every local user can read it (ps)"
		}
		s.warnings = append(s.warnings, fmt.Sprintf("DEPRECATED: --gossip-key puts the gossip key %s; "+
			"use --gossip-key-file (rotatable) or %s instead", where, envGossipKey))
	}

	access := o.rmqAccessKey
	if access == "" {
		access = getenv(envRocketMQAccessKey)
	}
	secret := getenv(envRocketMQSecretKey)
	if o.rmqSecretKeyFile != "" {
		if secret != "" {
			return s, fmt.Errorf("give the RocketMQ secret key one way: --rocketmq-secret-key-file or %s", envRocketMQSecretKey)
		}
		if secret, err = readSecretFile(o.rmqSecretKeyFile); err != nil {
			return s, fmt.Errorf("--rocketmq-secret-key-file: %w", err)
		}
		if w := permissive(o.rmqSecretKeyFile); w != "" {
			s.warnings = append(s.warnings, "--rocketmq-secret-key-file "+w)
		}
	}
	switch {
	case (access == "") != (secret == ""):
		return s, fmt.Errorf("RocketMQ ACL needs both the access key (--rocketmq-access-key or %s) and the secret key "+
			"(--rocketmq-secret-key-file or %s)", envRocketMQAccessKey, envRocketMQSecretKey)
	case len(access) > maxAccessKey || strings.ContainsFunc(access, isSpaceOrControl):
		return s, fmt.Errorf("the RocketMQ access key must be at most %d characters, without spaces or control characters", maxAccessKey)
	case strings.ContainsFunc(secret, isSpaceOrControl):
		return s, errors.New("the RocketMQ secret key must not contain spaces or control characters")
	}
	s.creds = rocketmq.Credentials{AccessKey: access, SecretKey: secret}
	return s, nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// readSecretFile reads a one-line secret (a trailing newline is dropped),
// at most maxSecretKeyFile bytes.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretKeyFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSecretKeyFile {
		return "", fmt.Errorf("%s is larger than %d bytes", path, maxSecretKeyFile)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// permissive returns a warning when path can be read by users other than
// its owner ("" otherwise, or when it cannot tell).
func permissive(path string) string {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("%s is readable by other users (mode %v): chmod 600 it", path, fi.Mode().Perm())
}

// keySetter is the part of a Membership the key file watcher drives.
type keySetter interface {
	SetKeys(keys [][]byte) (cluster.KeyChange, error)
}

// watchKeyFile installs the gossip keyring of path into mem whenever the
// file's keys change (looked at every poll) and on every value from hup,
// until ctx ends. A file that cannot be read or parsed changes nothing:
// the error is logged and the keyring in use stays.
func watchKeyFile(ctx context.Context, path string, applied [][]byte, mem keySetter, log *slog.Logger, hup <-chan os.Signal, poll time.Duration) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		forced := false
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-hup:
			forced = true
		}
		keys, err := cluster.ReadKeyFile(path)
		if err != nil {
			log.Error("gossip key file not reloaded: the keyring in use stays", "err", err)
			continue
		}
		if slices.EqualFunc(keys, applied, func(a, b []byte) bool { return string(a) == string(b) }) {
			if forced {
				log.Info("gossip key file reloaded: no change", "keys", keyIDs(keys))
			}
			continue
		}
		ch, err := mem.SetKeys(keys)
		if err != nil {
			log.Error("gossip key file not applied: the keyring in use stays", "err", err)
			continue
		}
		applied = keys
		log.Info("gossip key file applied", "keys", keyIDs(keys), "installed", ch.Installed, "primary", ch.Primary, "removed", ch.Removed)
	}
}

func keyIDs(keys [][]byte) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = cluster.KeyID(k)
	}
	return out
}
