package cluster_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/worker/cluster"
)

func newKey(t testing.TB, n int) []byte {
	t.Helper()
	k := make([]byte, n)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// TestParseKeys: the key file format, and every way a hostile or broken
// file is refused without echoing a key.
func TestParseKeys(t *testing.T) {
	t.Parallel()
	k16, k24, k32 := newKey(t, 16), newKey(t, 24), newKey(t, 32)
	tests := []struct {
		name    string
		file    string
		want    [][]byte
		wantErr string
	}{
		{"one key", b64(k32) + "\n", [][]byte{k32}, ""},
		{"primary first, comments and blanks", "# rotation step 2\n\n  " + b64(k24) + "  \n" + b64(k16) + "\r\n", [][]byte{k24, k16}, ""},
		{"empty", "", nil, "no key"},
		{"only comments", "# nothing\n\n", nil, "no key"},
		{"not base64", b64(k32) + "\nnot-a-key!\n", nil, "line 2 is not base64"},
		{"wrong size", b64([]byte("short")), nil, "key 1 is 5 bytes"},
		{"duplicate", b64(k16) + "\n" + b64(k16), nil, "key 2 is given twice"},
		{"too many", strings.Repeat(b64(newKey(t, 16))+"\n", 1) + keysText(t, cluster.MaxKeys), nil, "at most 8"},
		{"too large", strings.Repeat("#", cluster.MaxKeyFileSize+1), nil, "at most"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := cluster.ParseKeys([]byte(tc.file))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, cluster.ErrInvalidConfig) {
					t.Fatalf("err = %v, want ErrInvalidConfig with %q", err, tc.wantErr)
				}
				for _, line := range strings.Split(tc.file, "\n") {
					if len(line) > 8 && strings.Contains(err.Error(), strings.TrimSpace(line)) {
						t.Errorf("the error echoes the file: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d keys, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Errorf("key %d differs", i)
				}
			}
		})
	}
}

func keysText(t *testing.T, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(b64(newKey(t, 16)) + "\n")
	}
	return b.String()
}

// FuzzParseKeys: any input either parses into 1–MaxKeys distinct keys of
// AES sizes or is refused; it never panics.
func FuzzParseKeys(f *testing.F) {
	f.Add([]byte(b64(newKey(f, 32)) + "\n# c\n" + b64(newKey(f, 16))))
	f.Add([]byte("\n\n#"))
	f.Add([]byte("AAAA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := cluster.ParseKeys(data)
		if err != nil {
			return
		}
		if len(keys) == 0 || len(keys) > cluster.MaxKeys {
			t.Fatalf("%d keys", len(keys))
		}
		for i, k := range keys {
			if n := len(k); n != 16 && n != 24 && n != 32 {
				t.Fatalf("key %d is %d bytes", i, n)
			}
		}
	})
}

func TestReadKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := newKey(t, 32)
	path := filepath.Join(dir, "gossip.keys")
	if err := os.WriteFile(path, []byte(b64(k)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := cluster.ReadKeyFile(path)
	if err != nil || len(got) != 1 || !bytes.Equal(got[0], k) {
		t.Fatalf("ReadKeyFile = %d keys, %v", len(got), err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("#"), 10*cluster.MaxKeyFileSize), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.ReadKeyFile(big); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("a 640 KiB file: %v, want refused", err)
	}
	if _, err := cluster.ReadKeyFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}

// TestSetKeysRefuses: SetKeys never turns encryption on or off, and
// refuses bad keyrings, leaving the keyring as it was.
func TestSetKeysRefuses(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	plain := c.start(c.config("plain"))
	k1 := newKey(t, 32)
	enc := c.config("enc")
	enc.Keys = [][]byte{k1}
	e := c.start(enc)
	eventually(t, 10*time.Second, "both started", func() bool { return len(plain.Members()) == 1 && len(e.Members()) >= 1 })
	tests := []struct {
		name string
		m    *cluster.Membership
		keys [][]byte
	}{
		{"encryption on", plain.Membership, [][]byte{newKey(t, 16)}},
		{"encryption off", e.Membership, nil},
		{"bad size", e.Membership, [][]byte{[]byte("0123456789")}},
		{"duplicate", e.Membership, [][]byte{k1, k1}},
		{"too many", e.Membership, func() [][]byte {
			var ks [][]byte
			for range cluster.MaxKeys + 1 {
				ks = append(ks, newKey(t, 16))
			}
			return ks
		}()},
	}
	for _, tc := range tests {
		if _, err := tc.m.SetKeys(tc.keys); !errors.Is(err, cluster.ErrKeyring) {
			t.Errorf("%s: %v, want ErrKeyring", tc.name, err)
		}
	}
	if got := e.KeyIDs(); len(got) != 1 || got[0] != cluster.KeyID(k1) {
		t.Errorf("keyring after refusals: %v, want [%s]", got, cluster.KeyID(k1))
	}
	if got := plain.KeyIDs(); got != nil {
		t.Errorf("plain keyring: %v", got)
	}
}

// watchSplit records, until stop is called, every moment a node does not
// see all names live. A suspicion alone (which a loaded machine causes
// now and then) is not recorded; a split always goes on to dead within a
// few seconds.
func watchSplit(nodes []*testNode, names []string) (stop func() []string) {
	var mu sync.Mutex
	var splits []string
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			for _, n := range nodes {
				for _, name := range names {
					if mb, ok := stateOf(n.Membership, name); !ok || !mb.State.Live() {
						mu.Lock()
						splits = append(splits, n.Meta().WorkerID+" sees "+name+" "+string(mb.State))
						mu.Unlock()
					}
				}
			}
		}
	})
	return func() []string {
		close(done)
		wg.Wait()
		return splits
	}
}

// keyedCluster starts members a, b and c with gossip key k and waits
// until they all see each other.
func keyedCluster(t *testing.T, k []byte) (*testCluster, []*testNode, []string) {
	t.Helper()
	c := newTestCluster(t)
	c.key = k
	names := []string{"a", "b", "c"}
	nodes := c.startN(names...)
	eventually(t, 10*time.Second, "three members", allSee(nodes, cluster.StateAlive, names...))
	return c, nodes, names
}

// TestMembershipKeyRotation: rotating the gossip key in three steps, each
// rolled through the nodes one at a time (install the new key, switch
// the primary, remove the old key), never splits the cluster: every node
// sees every other live throughout. Afterwards only the new key gets in.
func TestMembershipKeyRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("gossip on loopback takes seconds")
	}
	t.Parallel()
	k1, k2 := newKey(t, 32), newKey(t, 32)
	c, nodes, names := keyedCluster(t, k1)

	stop := watchSplit(nodes, names)
	for _, step := range []struct {
		name string
		keys [][]byte
	}{
		{"install", [][]byte{k1, k2}},
		{"switch primary", [][]byte{k2, k1}},
		{"remove old", [][]byte{k2}},
	} {
		for _, n := range nodes {
			if _, err := n.SetKeys(step.keys); err != nil {
				t.Fatalf("%s on %s: %v", step.name, n.Meta().WorkerID, err)
			}
			// The nodes differ for a while, as in a rolling change.
			time.Sleep(300 * time.Millisecond)
		}
		// Longer than a dead node takes to be declared dead (~2–3 s).
		time.Sleep(3 * time.Second)
	}
	if splits := stop(); len(splits) > 0 {
		t.Errorf("the cluster split during the rotation (%d samples), first: %s", len(splits), splits[0])
	}
	for _, n := range nodes {
		if got := n.KeyIDs(); len(got) != 1 || got[0] != cluster.KeyID(k2) {
			t.Errorf("%s keyring %v, want [%s]", n.Meta().WorkerID, got, cluster.KeyID(k2))
		}
	}

	old := c.config("old")
	old.SecretKey = k1
	o := c.start(old)
	fresh := c.config("fresh")
	fresh.SecretKey = k2
	c.start(fresh)
	eventually(t, 10*time.Second, "a member with the new key joins", allSee(nodes, cluster.StateAlive, "fresh"))
	for _, n := range nodes {
		if _, ok := stateOf(n.Membership, "old"); ok {
			t.Errorf("%s sees a member with the removed key", n.Meta().WorkerID)
		}
	}
	if got := len(o.Members()); got != 1 {
		t.Errorf("the member with the removed key sees %d members, want itself only", got)
	}
}

// TestMembershipKeyRotationOutOfOrder is the control of the rotation
// test: a node that switches its primary to a key the others have not
// installed is cut off, and the split watcher sees it.
func TestMembershipKeyRotationOutOfOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("gossip on loopback takes seconds")
	}
	t.Parallel()
	k1, k2 := newKey(t, 32), newKey(t, 32)
	_, nodes, names := keyedCluster(t, k1)
	stop := watchSplit(nodes, names)
	if _, err := nodes[0].SetKeys([][]byte{k2, k1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "b sees a dead", func() bool { return sees(nodes[1].Membership, cluster.StateDead, "a") })
	time.Sleep(200 * time.Millisecond) // the split lasts: ten of the watcher's samples
	if splits := stop(); len(splits) == 0 {
		t.Error("the watcher saw no split")
	}
}
