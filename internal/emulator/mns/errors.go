package mns

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors returned by New and Config.Validate.
var (
	// ErrMissingCredentials means the Config lacks an access key id or secret;
	// the emulator always verifies signatures.
	ErrMissingCredentials = errors.New("mns: access key id and secret are required")
	// ErrStarted means Start was called on a server that is already serving.
	ErrStarted = errors.New("mns: server already started")
)

// apiError is an MNS protocol error: the HTTP status and the Code/Message
// pair MNS puts in its XML <Error> body. The SDK maps Code to its typed
// errors, so the codes and statuses below follow MNS's error-code table.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("mns: %d %s: %s", e.Status, e.Code, e.Message) }

func newAPIError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Protocol errors with fixed wording, named after their MNS codes.
var (
	errMessageNotExist  = &apiError{http.StatusNotFound, "MessageNotExist", "Message not exist."}
	errQueueNotExist    = &apiError{http.StatusNotFound, "QueueNotExist", "The queue name you provided is not exist."}
	errQueueExists      = &apiError{http.StatusConflict, "QueueAlreadyExist", "The queue you want to create is already exist."}
	errReceiptHandle    = &apiError{http.StatusBadRequest, "ReceiptHandleError", "The receipt handle you provide is not valid."}
	errMissingHandle    = &apiError{http.StatusBadRequest, "MissingReceiptHandle", "ReceiptHandle is required."}
	errMissingVisTime   = &apiError{http.StatusBadRequest, "MissingVisibilityTimeout", "VisibilityTimeout is required."}
	errMalformedXML     = &apiError{http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed."}
	errInvalidURL       = &apiError{http.StatusBadRequest, "InvalidRequestURL", "Http request URL format invalid."}
	errInvalidQueueName = &apiError{http.StatusBadRequest, "InvalidQueueName", "The queue name you provided is not valid."}
	errQueueNameLength  = &apiError{http.StatusBadRequest, "QueueNameLengthError", "The length of queue name should be between 1 and 256."}
	errInvalidDigest    = &apiError{http.StatusBadRequest, "InvalidDegist", "The Content-MD5 you specified is invalid."}

	errMissingAuth    = &apiError{http.StatusBadRequest, "MissingAuthorizationHeader", "Authorization header is required."}
	errInvalidAuth    = &apiError{http.StatusBadRequest, "InvalidAuthorizationHeader", "The Authorization header format is invalid."}
	errMissingDate    = &apiError{http.StatusBadRequest, "MissingDateHeader", "Date header is required."}
	errInvalidDate    = &apiError{http.StatusBadRequest, "InvalidDateHeader", "The Date header format is invalid."}
	errTimeExpired    = &apiError{http.StatusRequestTimeout, "TimeExpired", "The http request you sent is expired."}
	errMissingVersion = &apiError{http.StatusBadRequest, "MissingVersionHeader", "x-mns-version header is required."}
	errInvalidVersion = &apiError{http.StatusBadRequest, "InvalidVersionHeader", "The x-mns-version header is invalid."}
	errUnknownKeyID   = &apiError{http.StatusForbidden, "InvalidAccessKeyId", "The AccessKey Id you provided is not exist."}
	errBadSignature   = &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."}
)

// errSchema reports a request body that parses but lacks a required element.
func errSchema(element string) *apiError {
	return newAPIError(http.StatusBadRequest, "InvalidArgument",
		"The XML you provided did not validate against our published schema, cause by %s Element.", element)
}

// errRange reports a parameter outside MNS's allowed range.
func errRange(name string, low, high int64) *apiError {
	return newAPIError(http.StatusBadRequest, "InvalidArgument",
		"The value of %s should between %d and %d.", name, low, high)
}
