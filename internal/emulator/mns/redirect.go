package mns

import (
	"time"

	"github.com/valyala/fasthttp"
)

// SDKEndpoint is an endpoint URL of the shape the official Go SDK v1.0.x
// requires (it panics unless the URL has exactly five dot-separated parts,
// "http://account.mns.region.aliyuncs.com"). It does not resolve; give the
// SDK client Redirect(srv.Addr()) as its transport so requests reach the
// emulator with this Host header, as they would reach MNS.
const SDKEndpoint = "http://1234567890123456.mns.cn-hangzhou.aliyuncs.com"

// Redirect returns a fasthttp transport that sends every request to addr
// ("host:port") whatever host its URL names. Install it with the SDK's
// MNSClient.SetTransport before the first request.
func Redirect(addr string) fasthttp.RoundTripper {
	return &redirect{hc: &fasthttp.HostClient{
		Addr: addr,
		// Longer than the longest long poll (30 s) the API allows.
		ReadTimeout:  time.Minute,
		WriteTimeout: time.Minute,
	}}
}

type redirect struct{ hc *fasthttp.HostClient }

func (r *redirect) RoundTrip(_ *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	return false, r.hc.Do(req, resp)
}
