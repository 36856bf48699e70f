package dts_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a connection or emulator running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
