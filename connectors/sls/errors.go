package sls

import (
	"errors"
	"fmt"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ferryhq/ferry/connectors/kit/alicloud"
)

var (
	// errTooLarge rejects a log whose encoded size exceeds what one
	// LogGroup may carry (5 MiB).
	errTooLarge = errors.New("log too large")
	// errTooManyKeys rejects an event that flattens into more keys than
	// one log may carry here.
	errTooManyKeys = errors.New("too many keys")
	// errTime rejects a record whose time renders to neither unix seconds
	// nor RFC 3339, or outside what a log's uint32 seconds can hold.
	errTime = errors.New("invalid log time")
	// errField rejects a topic or source that renders longer than allowed.
	errField = errors.New("value too long")
	// errRefused is SLS's refusal of a log group for its content.
	errRefused = errors.New("SLS refused the logs")
)

// codes sorts SLS's error codes for the sink (alicloud.Codes): fatal ones
// with what to fix, those that blame the logs sent, and throttles, retried
// no sooner than a second (SLS sends no retry hint).
var codes = &alicloud.Codes{
	Fatal: map[string]string{
		"Unauthorized":         "the access key is not allowed to write to this logstore, or is unknown",
		"InvalidAccessKeyId":   "access.key.id is not known",
		"SignatureNotMatch":    "access.key.secret does not match access.key.id, or signature.version is wrong",
		"ProjectNotExist":      "the project does not exist at this endpoint",
		"LogStoreNotExist":     "the logstore does not exist in the project",
		"ProjectForbidden":     "the project is disabled",
		"RequestTimeTooSkewed": "the worker's clock is too far from SLS's",
		"LogStoreWithoutShard": "the logstore has no shard to write to",
		"NotSupported":         "the endpoint does not support this request (signature.version?)",
	},
	Record: map[string]bool{
		"PostBodyInvalid":         true,
		"PostBodyTooLarge":        true,
		"PostBodyUncompressError": true,
		"InvalidTimestamp":        true,
		"InvalidKey":              true,
		"InvalidEncoding":         true,
		"InvalidLine":             true,
	},
	Quota: map[string]bool{
		"WriteQuotaExceed":      true,
		"ShardWriteQuotaExceed": true,
		"ProjectQuotaExceed":    true,
		"ExceedQuota":           true,
		"ServerBusy":            true,
	},
	QuotaWait: time.Second,
}

// code returns SLS's error code in err, "" when there is none.
func code(err error) string {
	var e *aliyun.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

var triage = codes.Triage(code)

// explain wraps err with what to fix, for the errors an operator causes.
func explain(err error) error {
	return unreachable(code(err), codes.Explain(code(err), err))
}

// unreachable says so of the SDK's ClientError (no answer from SLS).
func unreachable(code string, err error) error {
	if code == "ClientError" {
		return fmt.Errorf("endpoint unreachable: %w", err)
	}
	return err
}
