package state_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"

	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/state/storetest"
)

func openBolt(t *testing.T, dir string) state.Store {
	t.Helper()
	s, err := state.OpenBolt(filepath.Join(dir, "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBoltConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) state.Store { return openBolt(t, t.TempDir()) })
	storetest.RunDurable(t, openBolt)
}

// TestBoltLockedFailsFast: a second opener of the same file, in this
// process or another, gets a clear error within the lock timeout.
func TestBoltLockedFailsFast(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ferry.db")
	s, err := state.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	start := time.Now()
	_, err = state.OpenBolt(path, state.WithLockTimeout(200*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second OpenBolt: err = %v, want a locked-file error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("second OpenBolt took %s, want about the 200ms lock timeout", d)
	}

	// The lock is released on Close.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := state.OpenBolt(path, state.WithLockTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatalf("OpenBolt after Close: %v", err)
	}
	s2.Close()
}

// TestBoltLockedByOtherProcess runs this test binary again as a helper that
// holds the store open, then opens the same file here.
func TestBoltLockedByOtherProcess(t *testing.T) {
	if path := os.Getenv("FERRY_BOLT_HOLD"); path != "" {
		s, err := state.OpenBolt(path)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("holding")
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
		s.Close()
		os.Exit(0)
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ferry.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestBoltLockedByOtherProcess$")
	cmd.Env = append(os.Environ(), "FERRY_BOLT_HOLD="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "holding\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	start := time.Now()
	_, err = state.OpenBolt(path, state.WithLockTimeout(300*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("OpenBolt of a file another process holds: err = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s to fail", d)
	}
}

// BenchmarkBoltCommitOffsets measures one fsync'd commit of four
// partitions, the shape of a task's periodic offset flush.
func BenchmarkBoltCommitOffsets(b *testing.B) {
	s, err := state.OpenBolt(filepath.Join(b.TempDir(), "ferry.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	offs := map[string]api.Position{}
	for p := range 4 {
		offs[fmt.Sprintf("partition-%d", p)] = fmt.Appendf(nil, "mysql-bin.000001:%d", 1000+p)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.CommitOffsets(ctx, "orders", 1, offs); err != nil {
			b.Fatal(err)
		}
	}
}

// bbolt refuses keys over 32 KiB; the store says so and, the transaction
// rolled back, keeps nothing of the call.
func TestBoltKeyTooLarge(t *testing.T) {
	t.Parallel()
	s := openBolt(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	huge := strings.Repeat("p", 40000)
	err := s.CommitOffsets(ctx, "orders", 1, map[string]api.Position{"ok": api.Position("1"), huge: api.Position("2")})
	if err == nil {
		t.Fatal("commit of a 40000-byte partition name succeeded")
	}
	got, err := s.Offsets(ctx, "orders")
	if err != nil || len(got) != 0 {
		t.Errorf("offsets after the failed commit = %q, %v; want none", got, err)
	}
	if _, err := s.PutConnector(ctx, state.Connector{Name: huge}); err == nil {
		t.Error("PutConnector with a 40000-byte name succeeded")
	}
}
