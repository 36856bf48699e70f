package mns

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ferryhq/ferry/connectors/kit/alicloud"
)

// maxResponseBytes bounds a response body read into memory (a batch
// receive answers at most 16 messages of 64 KiB, base64 or not).
const maxResponseBytes = 4 << 20

// transport carries the SDK's requests over net/http instead of
// fasthttp's own connections, so that
//   - a call honours the ctx of the Write (or Open) that makes it (the SDK
//     takes no ctx): the sink sets it with Use;
//   - connect.address can send every request to another host:port while
//     the request, and TLS, still name the endpoint;
//   - Close can close every connection: fasthttp's connection goroutines
//     would outlive the sink.
//
// fasthttp still runs its client's map cleaner, which finds no
// connections and ends within a second of the last request; Close waits
// for that (see sink.Close).
type transport struct {
	hc *http.Client
	alicloud.CallContext
	lastDone atomic.Int64 // unix nanoseconds when the last request ended
}

func newTransport(connect string, timeout time.Duration) *transport {
	return &transport{hc: &http.Client{Transport: alicloud.HTTPTransport(connect, timeout), Timeout: timeout,
		// MNS never redirects; a redirect would resend a signed request
		// to a host it was not signed for.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (t *transport) RoundTrip(_ *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	defer t.lastDone.Store(time.Now().UnixNano())
	ctx := t.Get()
	if ctx == nil {
		ctx = context.Background()
	}
	hreq, err := http.NewRequestWithContext(ctx, string(req.Header.Method()), req.URI().String(), bytes.NewReader(req.Body()))
	if err != nil {
		return false, err
	}
	req.Header.VisitAll(func(k, v []byte) {
		switch string(k) {
		case "Host", "Content-Length", "Connection":
		default:
			hreq.Header.Add(string(k), string(v))
		}
	})
	hresp, err := t.hc.Do(hreq)
	if err != nil {
		return false, err
	}
	defer hresp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(hresp.Body, maxResponseBytes+1))
	if err != nil {
		return false, err
	}
	if len(body) > maxResponseBytes {
		return false, fmt.Errorf("response body exceeds %d bytes", maxResponseBytes)
	}
	resp.SetStatusCode(hresp.StatusCode)
	for k, vs := range hresp.Header {
		for _, v := range vs {
			resp.Header.Add(k, v)
		}
	}
	resp.SetBody(body)
	return false, nil
}

// idle is how long ago the last request ended (0 when none was made).
func (t *transport) idle() time.Duration {
	last := t.lastDone.Load()
	if last == 0 {
		return 0
	}
	return time.Since(time.Unix(0, last))
}

func (t *transport) close() { t.hc.CloseIdleConnections() }
