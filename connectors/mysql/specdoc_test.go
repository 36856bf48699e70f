package mysql_test

import (
	"testing"

	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/mysql"
)

// TestSourceSpecDocumented keeps the package's table of fields in step with
// the source's spec.
func TestSourceSpecDocumented(t *testing.T) {
	t.Parallel()
	apitest.CheckSpecDoc(t, "config.go", mysql.Source.Spec)
}
