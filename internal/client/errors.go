package client

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ferryhq/ferry/worker"
)

// Error is a non-2xx answer from the server.
type Error struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Code is the body's error_code (Kafka Connect repeats the HTTP
	// status there); 0 when the body had none.
	Code int
	// Message is the body's message, or the raw body (trimmed) when it
	// was not the JSON error shape.
	Message string
	// Fields are Ferry's field-level validation failures of a 400.
	Fields []worker.FieldErrorBody
}

func (e *Error) Error() string {
	return fmt.Sprintf("error (HTTP %d): %s", e.StatusCode, e.Message)
}

// IsNotFound reports whether err is a 404 from the server.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict reports whether err is a 409 from the server (the connector
// exists, or the cluster is rebalancing: retry).
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

func hasStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == status
}

// ErrStreamEnded means the worker ended a stream (a tap) on its own, at
// its request timeout or when it stopped; the caller may open it again.
var ErrStreamEnded = errors.New("client: the worker ended the stream")
