package offset_test

import (
	"path/filepath"
	"testing"

	"github.com/ferryhq/ferry/offset"
	"github.com/ferryhq/ferry/offset/storetest"
)

func openBolt(t *testing.T, dir string) offset.Store {
	t.Helper()
	s, err := offset.OpenBolt(filepath.Join(dir, "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBoltConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) offset.Store { return openBolt(t, t.TempDir()) })
	storetest.RunDurable(t, openBolt)
}
