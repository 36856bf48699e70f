package mysql_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a binlog reader or connection pool
// running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
