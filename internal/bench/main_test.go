package bench

import (
	"fmt"
	"os"
	"testing"

	"github.com/ferryhq/ferry/internal/gctune"
)

// TestMain gives the benchmarks the collector settings the ferry process
// runs with (internal/gctune's defaults), so they measure the pipeline as
// a worker runs it. GOGC or GOMEMLIMIT in the environment still win:
// GOGC=100 measures Go's default.
func TestMain(m *testing.M) {
	s, err := gctune.Apply(gctune.Request{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "bench: garbage collector", s)
	os.Exit(m.Run())
}
