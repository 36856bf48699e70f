package dts_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: Close
// must stop the broker and the publisher, and tests must close their clients.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
