package worker

import (
	"context"
	"net/http"
)

// Headers of a write one cluster worker forwards to the leader. The
// request id is the same on every attempt of one client request;
// HeaderReplay ("1") says an earlier attempt may have been applied (its
// answer was lost).
const (
	HeaderForwardedBy = "Ferry-Forwarded-By"
	HeaderRequestID   = "Ferry-Request-Id"
	HeaderReplay      = "Ferry-Replay"
)

// maxRequestID bounds a forwarded request id; a longer one is not one of
// ours and gets no replay protection rather than a huge record.
const maxRequestID = 64

// Request is what a Controller call's context says about the REST
// request it serves: whether another worker forwarded it (then it is
// handled where it arrives, never forwarded again, so two workers that
// briefly disagree on the leader cannot bounce it), the write's id and
// whether an earlier attempt may have been applied, and the caller's
// Authorization header, which a forwarded write carries to the leader so
// the leader checks the caller's own credentials again.
type Request struct {
	Forwarded     bool
	ID            string
	Replay        bool
	Authorization string
}

type requestKey struct{}

// RequestOf returns the Request ctx carries (the zero Request if none).
func RequestOf(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}

// WithRequest returns ctx carrying r.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// ForwardedRequest marks r as forwarded by another worker, reading the
// request id and replay mark from the forwarding headers h.
func ForwardedRequest(r Request, h http.Header) Request {
	r.Forwarded = true
	r.ID = h.Get(HeaderRequestID)
	if len(r.ID) > maxRequestID {
		r.ID = ""
	}
	r.Replay = h.Get(HeaderReplay) == "1"
	return r
}
