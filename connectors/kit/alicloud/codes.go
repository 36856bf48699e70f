package alicloud

import (
	"fmt"
	"time"

	"github.com/ferryhq/ferry/connectors/kit"
)

// Codes sorts one service's error codes (SLS's errorCode, MNS's Code)
// onto the kit's classes. Codes it does not list are transient, as the
// kit asks.
type Codes struct {
	// Fatal codes cannot be fixed by retrying; each maps to what the
	// operator must fix, which Explain puts in front of the error.
	Fatal map[string]string
	// Record codes blame the record (the message, the logs) sent.
	Record map[string]bool
	// Quota codes are throttles, retried no sooner than QuotaWait (the
	// services send no retry hint).
	Quota     map[string]bool
	QuotaWait time.Duration
}

// Class sorts one code.
func (c *Codes) Class(code string) kit.Class {
	switch {
	case code == "":
		return kit.Transient
	case c.Fatal[code] != "":
		return kit.Fatal
	case c.Record[code]:
		return kit.RecordFault
	}
	return kit.Transient
}

// RetryAfter is the least wait a code asks for.
func (c *Codes) RetryAfter(code string) time.Duration {
	if c.Quota[code] {
		return c.QuotaWait
	}
	return 0
}

// Triage is the kit's triage of errors whose code codeOf finds ("" for
// none).
func (c *Codes) Triage(codeOf func(error) string) kit.Triage {
	return kit.Triage{
		Classify:   func(err error) kit.Class { return c.Class(codeOf(err)) },
		RetryAfter: func(err error) time.Duration { return c.RetryAfter(codeOf(err)) },
	}
}

// Explain wraps err with what to fix when its code is fatal, and returns
// it unchanged otherwise.
func (c *Codes) Explain(code string, err error) error {
	if hint := c.Fatal[code]; hint != "" && code != "" {
		return fmt.Errorf("%s: %w", hint, err)
	}
	return err
}
