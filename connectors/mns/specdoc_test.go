package mns_test

import (
	"testing"

	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/mns"
)

// TestSinkSpecDocumented keeps the package's table of fields in step with
// the sink's spec.
func TestSinkSpecDocumented(t *testing.T) {
	t.Parallel()
	apitest.CheckSpecDoc(t, "doc.go", mns.Sink.Spec)
}
