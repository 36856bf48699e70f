package sls

import (
	"errors"
	"maps"
	"strings"

	"github.com/ferryhq/ferry/connectors/kit/alicloud"
)

// errBadPosition fails a source task handed a stored position that is not
// a cursor (with an optional @<count>): the shard cannot be resumed from
// it, and guessing would lose or repeat logs.
var errBadPosition = errors.New("invalid stored position")

// sourceCodes sort SLS's errors for the source: the sink's fatal codes,
// worded for reading where the sink's wording (writing) does not fit, and
// the read throttles beside the write ones. Nothing a source reads is a
// record's fault.
var sourceCodes = func() *alicloud.Codes {
	c := &alicloud.Codes{Fatal: maps.Clone(codes.Fatal), Quota: maps.Clone(codes.Quota), QuotaWait: codes.QuotaWait}
	maps.Copy(c.Fatal, map[string]string{
		"Unauthorized":     "access.key.id is unknown, or may not read this logstore or use its consumer groups",
		"ProjectNotExist":  "source.project: the project does not exist at this endpoint",
		"LogStoreNotExist": "source.logstore: the logstore does not exist in the project",
	})
	c.Quota["ReadQuotaExceed"] = true
	c.Quota["ShardReadQuotaExceed"] = true
	return c
}()

// sourceCode is SLS's error code in err: the SDK's *Error's, or the
// "Code:message" text some SDK read calls make of it.
func sourceCode(err error) string {
	if c := code(err); c != "" && c != "ClientError" {
		return c
	}
	if err == nil {
		return ""
	}
	msg := err.Error()
	if c, _, ok := strings.Cut(msg, ":"); ok && c != "" && !strings.ContainsFunc(c, func(r rune) bool {
		return (r < 'A' || r > 'Z') && (r < 'a' || r > 'z')
	}) {
		return c
	}
	return code(err)
}

var sourceTriage = sourceCodes.Triage(sourceCode)

// explainSource wraps err with what to fix.
func explainSource(err error) error {
	return unreachable(code(err), sourceCodes.Explain(sourceCode(err), err))
}
