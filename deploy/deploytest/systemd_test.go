package deploytest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const unitBinary = "/usr/local/bin/ferry"

// analyzeUnit runs systemd-analyze on a copy of unit whose ExecStart
// binary is an executable the test creates: verify checks that the binary
// exists, and /usr/local/bin/ferry need not exist on the machine running
// the test. Any output fails, since verify exits 0 on warnings (unknown
// keys, values it cannot parse).
func analyzeUnit(t *testing.T, unit []byte) string {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		need(t, "systemd-analyze")
	}
	if n := bytes.Count(unit, []byte("ExecStart="+unitBinary+" ")); n != 1 {
		t.Fatalf("want one ExecStart=%s, found %d", unitBinary, n)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ferry")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ferry.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte(unitBinary), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	verify := exec.Command(analyze, "verify", "--man=no", path)
	verify.Stdout, verify.Stderr = &out, &out
	if err := verify.Run(); err != nil {
		out.WriteString("verify: " + err.Error() + "\n")
	}
	// The hardening, measured: systemd's own exposure score (0 best, 10
	// worst) must stay at most 2.0.
	sec := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", path)
	if b, err := sec.CombinedOutput(); err != nil {
		out.WriteString("security: " + err.Error() + "\n" + lastLine(b))
	}
	return out.String()
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1] + "\n"
}

// unitKeys are the unit file's Key=Value lines (the last of a key wins).
func unitKeys(b []byte) map[string]string {
	keys := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			keys[k] = v
		}
	}
	return keys
}

// TestSystemdUnit: ferry.service passes systemd-analyze verify with no
// warning and its security review, is hardened as docs/operations.md
// says, its command line and environment file name only flags `ferry
// worker` has, and it waits longer than a drain for the worker to stop.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	unit := readRepo(t, "deploy", "systemd", "ferry.service")
	if out := analyzeUnit(t, unit); out != "" {
		t.Errorf("systemd-analyze:\n%s", out)
	}
	keys := unitKeys(unit)
	for k, want := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "User": "ferry", "StateDirectory": "ferry",
		"Restart": "on-failure", "KillSignal": "SIGTERM", "EnvironmentFile": "/etc/ferry/ferry.env",
	} {
		if keys[k] != want {
			t.Errorf("%s=%q, want %q", k, keys[k], want)
		}
	}
	env := unitKeys(readRepo(t, "deploy", "systemd", "ferry.env"))
	args := strings.Fields(strings.TrimPrefix(keys["ExecStart"], unitBinary+" "))
	if args[0] != "worker" {
		t.Fatalf("ExecStart runs %q, want ferry worker", args[0])
	}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "$") {
			name := strings.Trim(a, "${}")
			if _, ok := env[name]; !ok {
				t.Errorf("ExecStart uses $%s, which ferry.env does not set", name)
			}
			continue
		}
		if _, v, ok := strings.Cut(a, "=${"); ok {
			if _, set := env[strings.TrimSuffix(v, "}")]; !set {
				t.Errorf("ExecStart's %s: ferry.env does not set it", a)
			}
		}
	}
	if !strings.Contains(keys["ExecStart"], "--data-dir=/var/lib/ferry ") {
		t.Error("ExecStart's --data-dir is not the StateDirectory /var/lib/ferry")
	}
	checkArgs(t, "ExecStart", "worker", args[1:])
	checkArgs(t, "ferry.env FERRY_OPTS", "worker", strings.Fields(env["FERRY_OPTS"]))

	drain, err := time.ParseDuration(env["FERRY_DRAIN_TIMEOUT"])
	if err != nil {
		t.Fatal(err)
	}
	stop, err := time.ParseDuration(keys["TimeoutStopSec"])
	if err != nil {
		t.Fatal(err)
	}
	if min := drainBudget(drain); stop < min {
		t.Errorf("TimeoutStopSec=%v: a drain may take %v", stop, min)
	}
}

// drainBudget is how long a worker may take to stop after SIGTERM: the
// drain, the default soft stop of a task left over
// (task.shutdown.graceful.timeout.ms), the gossip leave and the REST
// server's shutdown (5 s), and a margin.
func drainBudget(drain time.Duration) time.Duration {
	return drain + 10*time.Second + 2*time.Second + 5*time.Second + 10*time.Second
}

// TestSystemdVerifyCatches: the check above fails on a unit with a
// mistyped key or a value systemd cannot parse, which verify alone
// reports only as a warning, and on one whose hardening is weakened.
func TestSystemdVerifyCatches(t *testing.T) {
	t.Parallel()
	unit := readRepo(t, "deploy", "systemd", "ferry.service")
	for _, bad := range [][2]string{
		{"NoNewPrivileges=yes", "NoNewPrivilege=yes"},
		{"TimeoutStopSec=75s", "TimeoutStopSec=75x"},
		{"\nCapabilityBoundingSet=\n", "\n"}, // exposure 1.4 → 3.2
	} {
		broken := bytes.Replace(unit, []byte(bad[0]), []byte(bad[1]), 1)
		if bytes.Equal(broken, unit) {
			t.Fatalf("%s not in the unit", bad[0])
		}
		if out := analyzeUnit(t, broken); out == "" {
			t.Errorf("%s → %s: no complaint", bad[0], bad[1])
		}
	}
}
