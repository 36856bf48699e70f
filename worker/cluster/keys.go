package cluster

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Bounds of a gossip keyring. Memberlist tries every key on every packet
// it receives, and a rotation needs two at a time.
const (
	// MaxKeys is the most keys a keyring (MembershipConfig.Keys, a key
	// file) may hold.
	MaxKeys = 8
	// MaxKeyFileSize is the largest key file ReadKeyFile reads.
	MaxKeyFileSize = 64 << 10
)

// ParseKeys reads a gossip keyring in Ferry's key file format: one
// base64 (standard alphabet) AES key of 16, 24 or 32 bytes per line, the
// first one primary (gossip is encrypted with it; every key decrypts).
// Blank lines and lines starting with # are ignored. Errors name the line,
// never a key.
func ParseKeys(data []byte) ([][]byte, error) {
	if len(data) > MaxKeyFileSize {
		return nil, fmt.Errorf("%w: key file is %d bytes; at most %d", ErrInvalidConfig, len(data), MaxKeyFileSize)
	}
	var keys [][]byte
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("%w: key file line %d is not base64", ErrInvalidConfig, i+1)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: key file holds no key", ErrInvalidConfig)
	}
	if err := checkKeys(keys); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return keys, nil
}

// ReadKeyFile reads and parses a key file (see ParseKeys), refusing one
// larger than MaxKeyFileSize.
func ReadKeyFile(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip key file %s: %w", path, err)
	}
	keys, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip key file %s: %w", path, err)
	}
	return keys, nil
}

// checkKeys reports the first problem of a keyring: a key of the wrong
// size, a key given twice, too many keys.
func checkKeys(keys [][]byte) error {
	if len(keys) > MaxKeys {
		return fmt.Errorf("%d gossip keys; at most %d", len(keys), MaxKeys)
	}
	for i, k := range keys {
		if n := len(k); n != 16 && n != 24 && n != 32 {
			return fmt.Errorf("gossip key %d is %d bytes; it must be 16, 24 or 32", i+1, n)
		}
		if slices.IndexFunc(keys[:i], func(o []byte) bool { return bytes.Equal(o, k) }) >= 0 {
			return fmt.Errorf("gossip key %d is given twice", i+1)
		}
	}
	return nil
}

// KeyID names a key in logs without revealing it: the first 8 hex digits
// of its SHA-256.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// keyring returns the configured keys, primary first: Keys, or SecretKey
// alone.
func (c MembershipConfig) keyring() [][]byte {
	if len(c.Keys) > 0 {
		return c.Keys
	}
	if len(c.SecretKey) > 0 {
		return [][]byte{c.SecretKey}
	}
	return nil
}

// SetKeys replaces the gossip keyring while the membership runs, without
// a restart: it installs the keys the keyring lacks, makes keys[0] the
// primary (the key gossip is encrypted with), then removes the keys not
// in keys, and reports what it did. Every key decrypts, so a rotation
// that never splits the cluster goes in three steps, each done on every
// worker before the next begins: [old, new] (install), [new, old]
// (switch the primary), [new] (remove the old key).
//
// Encryption cannot be turned on or off this way: a membership created
// without keys refuses keys, and an encrypted one refuses an empty
// keyring (ErrKeyring). Before Run, SetKeys sets the keys Run starts
// with.
func (m *Membership) SetKeys(keys [][]byte) (KeyChange, error) {
	if err := checkKeys(keys); err != nil {
		return KeyChange{}, fmt.Errorf("%w: %w", ErrKeyring, err)
	}
	m.life.Lock()
	defer m.life.Unlock()
	if (len(keys) == 0) != (len(m.cfg.keyring()) == 0) {
		return KeyChange{}, fmt.Errorf("%w: gossip encryption cannot be turned on or off without a restart", ErrKeyring)
	}
	var ch KeyChange
	if m.keyring == nil { // not started: Run uses these
		m.cfg.Keys, m.cfg.SecretKey = cloneKeys(keys), nil
		return ch, nil
	}
	have := cloneKeys(m.keyring.GetKeys()) // RemoveKey reuses the ring's array
	for _, k := range keys {
		if !slices.ContainsFunc(have, func(h []byte) bool { return bytes.Equal(h, k) }) {
			if err := m.keyring.AddKey(k); err != nil {
				return ch, fmt.Errorf("%w: %w", ErrKeyring, err)
			}
			ch.Installed = append(ch.Installed, KeyID(k))
		}
	}
	if !bytes.Equal(m.keyring.GetPrimaryKey(), keys[0]) {
		if err := m.keyring.UseKey(keys[0]); err != nil {
			return ch, fmt.Errorf("%w: %w", ErrKeyring, err)
		}
		ch.Primary = KeyID(keys[0])
	}
	for _, h := range have {
		if !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(h, k) }) {
			if err := m.keyring.RemoveKey(h); err != nil {
				return ch, fmt.Errorf("%w: %w", ErrKeyring, err)
			}
			ch.Removed = append(ch.Removed, KeyID(h))
		}
	}
	m.cfg.Keys, m.cfg.SecretKey = cloneKeys(keys), nil
	return ch, nil
}

// KeyChange is what SetKeys changed, keys named by KeyID.
type KeyChange struct {
	Installed []string
	Primary   string // the new primary; "" when it did not change
	Removed   []string
}

// Empty reports whether nothing changed.
func (c KeyChange) Empty() bool {
	return len(c.Installed) == 0 && c.Primary == "" && len(c.Removed) == 0
}

// KeyIDs returns the KeyIDs of the keys gossip uses now, primary first
// (nil without encryption).
func (m *Membership) KeyIDs() []string {
	m.life.Lock()
	defer m.life.Unlock()
	var out []string
	for _, k := range m.cfg.keyring() {
		out = append(out, KeyID(k))
	}
	return out
}

func cloneKeys(keys [][]byte) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = slices.Clone(k)
	}
	return out
}
