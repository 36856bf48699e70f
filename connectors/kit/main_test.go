package kit_test

import (
	"testing"

	"go.uber.org/goleak"
)

// RunParallel starts goroutines; none may outlive it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
