package state_test

import (
	"testing"

	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/state/storetest"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) state.Store { return state.NewMemory() })
}
