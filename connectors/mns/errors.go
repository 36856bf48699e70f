package mns

import (
	"errors"
	"fmt"
	"time"

	ali_mns "github.com/aliyun/aliyun-mns-go-sdk"

	"github.com/ferryhq/ferry/connectors/kit/alicloud"
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
	// errTag rejects a record whose tag is longer than MNS takes or holds
	// characters XML cannot carry.
	errTag = errors.New("invalid message tag")
	// errEntry is one message's failure inside a batch, with MNS's code.
	errEntry = errors.New("message refused")
	// errQueueMissing reports a queue that does not exist.
	errQueueMissing = errors.New("queue does not exist")
	// errTopicMissing reports a topic that does not exist.
	errTopicMissing = errors.New("topic does not exist")
	// errTopicName rejects a record whose topic renders to a name MNS
	// refuses (the rule of queue names).
	errTopicName = errors.New("invalid topic name")
)

// codes sorts MNS's error codes (alicloud.Codes), of whole calls and of
// one message in a batch answer alike: credentials, permissions and a
// missing queue or topic are fatal, with what to fix; a refused message is the
// record's fault; the QPS limit is retried no sooner than a second (MNS
// sends no retry hint); anything else (unreachable endpoint, timeouts,
// server errors) is transient.
var codes = &alicloud.Codes{
	Fatal: map[string]string{
		"AccessDenied":               "the access key may not do this (AccessDenied)",
		"InvalidAccessKeyId":         "access.key.id is not known (InvalidAccessKeyId)",
		"SignatureDoesNotMatch":      "access.key.secret does not match access.key.id (SignatureDoesNotMatch)",
		"InvalidAuthorizationHeader": "the request's Authorization header was refused (InvalidAuthorizationHeader)",
		"TimeExpired":                "the worker's clock is off by more than MNS allows (TimeExpired)",
		"QueueNotExist":              "the queue does not exist (QueueNotExist)",
		"InvalidQueueName":           "the queue name is invalid (InvalidQueueName)",
		"QueueNameLengthError":       "the queue name is too long (QueueNameLengthError)",
		"TopicNotExist":              "the topic does not exist (TopicNotExist)",
		"TopicNameInvalid":           "the topic name is invalid (TopicNameInvalid)",
		"TopicNameLengthError":       "the topic name is too long (TopicNameLengthError)",
	},
	Record: map[string]bool{
		"MalformedXML":       true,
		"InvalidArgument":    true,
		"MessageBodyTooLong": true,
	},
	Quota:     map[string]bool{"QpsLimitExceeded": true},
	QuotaWait: time.Second,
}

// sdkCodes are the SDK's error templates (gogap/errors) of the codes
// classified, by MNS's code: the SDK makes its errors from them and keeps
// the code only inside.
var sdkCodes = map[string]codeTemplate{
	"AccessDenied":               &ali_mns.ERR_MNS_ACCESS_DENIED,
	"InvalidAccessKeyId":         &ali_mns.ERR_MNS_INVALID_ACCESS_KEY_ID,
	"SignatureDoesNotMatch":      &ali_mns.ERR_MNS_SIGNATURE_DOES_NOT_MATCH,
	"InvalidAuthorizationHeader": &ali_mns.ERR_MNS_INVALID_AUTHORIZATION_HEADER,
	"TimeExpired":                &ali_mns.ERR_MNS_TIME_EXPIRED,
	"QueueNotExist":              &ali_mns.ERR_MNS_QUEUE_NOT_EXIST,
	"InvalidQueueName":           &ali_mns.ERR_MNS_INVALID_QUEUE_NAME,
	"QueueNameLengthError":       &ali_mns.ERR_MNS_QUEUE_NAME_LENGTH_ERROR,
	"MalformedXML":               &ali_mns.ERR_MNS_MALFORMED_XML,
	"InvalidArgument":            &ali_mns.ERR_MNS_INVALID_ARGUMENT,
	"QpsLimitExceeded":           &ali_mns.ERR_MNS_QPS_LIMIT_EXCEEDED,
	"TopicNotExist":              &ali_mns.ERR_MNS_TOPIC_NOT_EXIST,
	"TopicNameInvalid":           &ali_mns.ERR_MNS_INVALID_TOPIC_NAME,
	"TopicNameLengthError":       &ali_mns.ERR_MNS_TOPIC_NAME_LENGTH_ERROR,
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

// code returns MNS's error code in err: a batch entry's, a missing
// queue's, or the one of the SDK template err was made from; "" for none.
func code(err error) string {
	var e *entryError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.code
	case errors.Is(err, errQueueMissing):
		return "QueueNotExist"
	case errors.Is(err, errTopicMissing):
		return "TopicNotExist"
	}
	var c codedError
	if !errors.As(err, &c) {
		return ""
	}
	for name, t := range sdkCodes {
		if t.IsEqual(c) {
			return name
		}
	}
	return ""
}

var triage = codes.Triage(code)

// explain wraps err with what to fix, for the errors an operator causes.
func explain(err error) error {
	if is(err, &ali_mns.ERR_SEND_REQUEST_FAILED) {
		return fmt.Errorf("endpoint unreachable: %w", err)
	}
	return codes.Explain(code(err), err)
}

// entryError is one message's failure in a batch answer.
type entryError struct {
	code, msg string
}

func (e *entryError) Error() string { return errEntry.Error() + ": " + e.code + ": " + e.msg }
func (e *entryError) Unwrap() error { return errEntry }
