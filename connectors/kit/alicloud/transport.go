package alicloud

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// HTTPTransport is the base transport of a connector's SDK client: it
// neither adds nor strips gzip (the services sign or checksum the body as
// sent), keeps enough idle connections for parallel calls, and, with
// connect set, dials connect for every request while the request (and
// TLS) still name the endpoint.
func HTTPTransport(connect string, timeout time.Duration) *http.Transport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DisableCompression = true
	base.MaxIdleConnsPerHost = 64
	if connect != "" {
		d := &net.Dialer{Timeout: timeout}
		base.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, connect)
		}
	}
	return base
}

// CallContext carries the ctx of the call in progress to a transport: the
// Alibaba SDKs take no ctx, so a connector sets it around each SDK call
// with Use and Release and its transport reads it with Get. Safe for
// concurrent use; the calls that share one must share one ctx.
type CallContext struct {
	p atomic.Pointer[context.Context]
}

// Use makes the requests that follow honour ctx.
func (c *CallContext) Use(ctx context.Context) { c.p.Store(&ctx) }

// Release ends what Use began.
func (c *CallContext) Release() { c.p.Store(nil) }

// Get returns the ctx set by Use, or nil.
func (c *CallContext) Get() context.Context {
	if p := c.p.Load(); p != nil {
		return *p
	}
	return nil
}
