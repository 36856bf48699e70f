package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// repoPath is a path relative to the repository root.
func repoPath(parts ...string) string {
	return filepath.Join(append([]string{"..", ".."}, parts...)...)
}

func readRepo(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(repoPath(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// need skips a test that lacks a tool, or fails it under CI, where every
// tool must be present.
func need(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing (CI=%s)", what, os.Getenv("CI"))
	}
	t.Skipf("%s is missing", what)
}

// ferryBin is the binary `make build` wrote, or $FERRY_BIN.
func ferryBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("FERRY_BIN")
	if bin == "" {
		bin, _ = filepath.Abs(repoPath("bin", "ferry"))
	}
	if _, err := os.Stat(bin); err != nil {
		need(t, bin+" (run make build)")
	}
	return bin
}

var (
	flagLine  = regexp.MustCompile(`^\s+(?:-\w, )?--([a-z0-9-]+)`)
	flagsMu   sync.Mutex
	flagCache = map[string]map[string]bool{}
)

// ferryFlags are the flags `ferry SUB --help` lists (global ones included).
func ferryFlags(t *testing.T, sub string) map[string]bool {
	t.Helper()
	flagsMu.Lock()
	defer flagsMu.Unlock()
	if f, ok := flagCache[sub]; ok {
		return f
	}
	out, err := exec.Command(ferryBin(t), sub, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("ferry %s --help: %v\n%s", sub, err, out)
	}
	flags := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if m := flagLine.FindStringSubmatch(line); m != nil {
			flags[m[1]] = true
		}
	}
	if len(flags) < 10 {
		t.Fatalf("ferry %s --help lists only %d flags:\n%s", sub, len(flags), out)
	}
	flagCache[sub] = flags
	return flags
}

// checkArgs reports every --flag of args that `ferry SUB` does not know.
func checkArgs(t *testing.T, where, sub string, args []string) {
	t.Helper()
	known := ferryFlags(t, sub)
	for _, a := range args {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !known[name] {
			t.Errorf("%s: ferry %s has no flag --%s", where, sub, name)
		}
	}
}
