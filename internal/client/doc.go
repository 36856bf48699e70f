// Package client is a small typed Go client of a Ferry worker's REST API,
// which has the shape of Kafka Connect's (routes, payloads, status codes),
// so it also talks to a Kafka Connect worker for the common routes.
//
// Create one with New and a base URL; every method takes a context and is
// safe for concurrent use. A non-2xx answer becomes an *Error carrying the
// HTTP status and the server's message ({"error_code":N,"message":".."});
// IsNotFound and IsConflict classify it. Payload types are the DTOs of
// package worker.
//
// WithResponseHook observes every response body as received, so a caller
// (the ferry CLI's --output json) can print exactly what the server said
// while still using the typed methods.
package client
