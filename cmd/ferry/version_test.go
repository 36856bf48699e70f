package main

import (
	"strings"
	"testing"
)

// TestVersionStamped: what the Makefile links in is what --version, GET /
// and ferry_build_info report. Not parallel: it sets the link-time vars.
func TestVersionStamped(t *testing.T) {
	oldV, oldC := buildVersion, buildCommit
	t.Cleanup(func() { buildVersion, buildCommit = oldV, oldC })
	buildVersion, buildCommit = "v1.4.0-3-gabc1234", "abc1234def"
	if version() != "v1.4.0-3-gabc1234" || commit() != "abc1234def" {
		t.Fatalf("version %q commit %q", version(), commit())
	}
	root := newRootCmd()
	var out strings.Builder
	if code := execute(t.Context(), root, []string{"--version"}, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	if got := out.String(); got != "ferry version v1.4.0-3-gabc1234 (commit abc1234def)\n" {
		t.Fatalf("--version printed %q", got)
	}
}

// TestDataDirID: a standalone worker's cluster id is made once and kept.
func TestDataDirID(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/cluster-id"
	a, err := dataDirID(path)
	if err != nil || !strings.HasPrefix(a, "ferry-") {
		t.Fatalf("%q %v", a, err)
	}
	if b, err := dataDirID(path); err != nil || b != a {
		t.Fatalf("second read %q %v, want %q", b, err, a)
	}
}
