package mysql_test

import (
	"testing"

	"github.com/ferryhq/ferry/api/apitest"

	cdc "github.com/ferryhq/ferry/connectors/mysql"
)

func apitestRun(t *testing.T, raw map[string]string, n int) {
	apitest.RunSource(t, apitest.SourceCase{Plugin: cdc.Source, Config: raw, Expect: n, EndOfInput: true})
}
