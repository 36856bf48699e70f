package sls

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connectors/kit"
)

// errBadPosition fails a source task handed a stored position that is not
// a cursor (with an optional @<count>): the shard cannot be resumed from
// it, and guessing would lose or repeat logs.
var errBadPosition = errors.New("invalid stored position")

// sourceHints are what to fix for the errors a source's operator causes,
// where the sink's wording (writing) does not fit.
var sourceHints = map[string]string{
	"Unauthorized":     "access.key.id is unknown, or may not read this logstore or use its consumer groups",
	"ProjectNotExist":  "source.project: the project does not exist at this endpoint",
	"LogStoreNotExist": "source.logstore: the logstore does not exist in the project",
}

// readQuotaCodes are SLS's read throttles: retried no sooner than
// quotaWait.
var readQuotaCodes = map[string]bool{
	"ReadQuotaExceed":      true,
	"ShardReadQuotaExceed": true,
}

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

var sourceTriage = kit.Triage{
	Classify: func(err error) kit.Class {
		c := sourceCode(err)
		if fatalCodes[c] != "" {
			return kit.Fatal
		}
		return kit.Transient
	},
	RetryAfter: func(err error) time.Duration {
		if c := sourceCode(err); quotaCodes[c] || readQuotaCodes[c] {
			return quotaWait
		}
		return 0
	},
}

// explainSource wraps err with what to fix.
func explainSource(err error) error {
	if hint := sourceHints[sourceCode(err)]; hint != "" {
		return fmt.Errorf("%s: %w", hint, err)
	}
	return explain(err)
}
