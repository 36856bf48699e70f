package mns

import (
	"errors"
	"time"

	ali_mns "github.com/aliyun/aliyun-mns-go-sdk"

	"github.com/ferryhq/ferry/connectors/kit"
)

var (
	// errEndpoint reports an endpoint the SDK could not use.
	errEndpoint = errors.New("invalid MNS endpoint")
	// errQueueName rejects a record whose queue renders to a name MNS
	// refuses: empty, longer than 120, or characters other than letters,
	// digits and '-' (starting with a letter or digit).
	errQueueName = errors.New("invalid queue name")
	// errTooLarge rejects a message whose body, as sent, exceeds 64 KiB.
	errTooLarge = errors.New("message body too large")
	// errXMLChar rejects, with base64=false, a body holding bytes an XML
	// document cannot carry (not UTF-8, or control characters): the SDK
	// would replace them silently.
	errXMLChar = errors.New("body holds characters XML cannot carry; set base64=true")
	// errParam rejects a record whose delay.seconds or priority does not
	// render to an integer in MNS's range.
	errParam = errors.New("invalid message parameter")
	// errEntry is one message's failure inside a batch, with MNS's code.
	errEntry = errors.New("message refused")
	// errQueueMissing reports a queue that does not exist.
	errQueueMissing = errors.New("queue does not exist")
)

// fatalCodes are the SDK's errors that retrying cannot fix: credentials,
// permissions, and a request the account cannot serve.
var fatalCodes = []codeTemplate{
	&ali_mns.ERR_MNS_ACCESS_DENIED,
	&ali_mns.ERR_MNS_INVALID_ACCESS_KEY_ID,
	&ali_mns.ERR_MNS_SIGNATURE_DOES_NOT_MATCH,
	&ali_mns.ERR_MNS_INVALID_AUTHORIZATION_HEADER,
	&ali_mns.ERR_MNS_TIME_EXPIRED, // the worker's clock is off by more than MNS allows
	&ali_mns.ERR_MNS_QUEUE_NOT_EXIST,
	&ali_mns.ERR_MNS_INVALID_QUEUE_NAME,
	&ali_mns.ERR_MNS_QUEUE_NAME_LENGTH_ERROR,
}

// recordCodes are the SDK's errors that blame the message itself.
var recordCodes = []codeTemplate{
	&ali_mns.ERR_MNS_MALFORMED_XML,
	&ali_mns.ERR_MNS_INVALID_ARGUMENT,
}

// codeTemplate is one of the SDK's error templates (gogap/errors), which
// recognise the errors made from them.
type codeTemplate interface{ IsEqual(error) bool }

// codedError is an error the SDK made from a template. The templates
// compare it by type assertion, so it is found in a wrapped chain first.
type codedError interface {
	error
	Code() uint64
	Namespace() string
}

// is reports whether err, or an error it wraps, was made from t.
func is(err error, t codeTemplate) bool {
	var c codedError
	return errors.As(err, &c) && t.IsEqual(c)
}

// classify sorts an error of a whole call (kit.Triage): credentials,
// permissions and a missing queue are fatal, a refused message is the
// record's fault, anything else (unreachable endpoint, timeouts, server
// errors, the QPS limit) is transient.
func classify(err error) kit.Class {
	if errors.Is(err, errQueueMissing) {
		return kit.Fatal
	}
	for _, c := range fatalCodes {
		if is(err, c) {
			return kit.Fatal
		}
	}
	for _, c := range recordCodes {
		if is(err, c) {
			return kit.RecordFault
		}
	}
	return kit.Transient
}

// entryClass sorts the error code of one message in a batch answer.
func entryClass(code string) kit.Class {
	switch code {
	case "MalformedXML", "InvalidArgument", "MessageBodyTooLong":
		return kit.RecordFault
	case "AccessDenied", "QueueNotExist":
		return kit.Fatal
	}
	return kit.Transient
}

// quotaWait is how long a throttled call waits at least: MNS sends no
// retry hint with QpsLimitExceeded.
const quotaWait = time.Second

func retryAfter(err error) time.Duration {
	if is(err, &ali_mns.ERR_MNS_QPS_LIMIT_EXCEEDED) {
		return quotaWait
	}
	var e *entryError
	if errors.As(err, &e) && e.code == "QpsLimitExceeded" {
		return quotaWait
	}
	return 0
}

var triage = kit.Triage{Classify: classify, RetryAfter: retryAfter}

// entryError is one message's failure in a batch answer.
type entryError struct {
	code, msg string
}

func (e *entryError) Error() string { return errEntry.Error() + ": " + e.code + ": " + e.msg }
func (e *entryError) Unwrap() error { return errEntry }
