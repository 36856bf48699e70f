package sls

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrConfig reports a Config that Validate rejects.
var ErrConfig = errors.New("sls emulator: invalid config")

// ErrMalformedLogGroup reports bytes that are not a protobuf LogGroup as SLS
// defines it (bad wire format or a missing required field).
var ErrMalformedLogGroup = errors.New("sls: malformed LogGroup")

// ErrClosed reports a Start or Run on a Server that was closed.
var ErrClosed = errors.New("sls emulator: server closed")

// apiError is an SLS error response: the HTTP status and the JSON body
// {"errorCode","errorMessage"} that the SDK decodes into its *sls.Error.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

func newAPIError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// The codes below are the ones SLS answers with and the SDK and its consumer
// library compare against (including SLS's own spellings "ConsumerNotExsit"
// and "ShardNotExsit" on the checkpoint path).
func errUnauthorized(format string, args ...any) *apiError {
	return newAPIError(http.StatusUnauthorized, "Unauthorized", format, args...)
}

func errSignatureNotMatch(format string, args ...any) *apiError {
	return newAPIError(http.StatusUnauthorized, "SignatureNotMatch", format, args...)
}

func errParameterInvalid(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, "ParameterInvalid", format, args...)
}

func errProjectNotExist(name string) *apiError {
	return newAPIError(http.StatusNotFound, "ProjectNotExist", "The Project does not exist : %s", name)
}

func errLogStoreNotExist(name string) *apiError {
	return newAPIError(http.StatusNotFound, "LogStoreNotExist", "logstore %s does not exist", name)
}

func errShardNotExist(id int) *apiError {
	return newAPIError(http.StatusNotFound, "ShardNotExist", "shard %d does not exist", id)
}

func errConsumerGroupNotExist(name string) *apiError {
	return newAPIError(http.StatusNotFound, "ConsumerGroupNotExist", "consumer group %s does not exist", name)
}

func errInvalidCursor(cursor string) *apiError {
	return newAPIError(http.StatusBadRequest, "InvalidCursor", "cursor %q is invalid", cursor)
}

func errPostBodyInvalid(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, "PostBodyInvalid", format, args...)
}
