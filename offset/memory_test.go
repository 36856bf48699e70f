package offset_test

import (
	"testing"

	"github.com/ferryhq/ferry/offset"
	"github.com/ferryhq/ferry/offset/storetest"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) offset.Store { return offset.NewMemory() })
}
