package sls

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ferryhq/ferry/api"
)

// maxEndpointLen bounds the endpoint (a host name is at most 253 bytes).
const maxEndpointLen = 300

// connFields are the settings that reach an SLS project: the endpoint, the
// access key and the signature, shared by everything in this package that
// talks to SLS.
var connFields = api.Spec{
	{Name: "endpoint", Type: api.TypeString, Required: true, Check: checkEndpoint,
		Description: "The region's SLS endpoint, such as cn-hangzhou.log.aliyuncs.com or https://cn-hangzhou-intranet.log.aliyuncs.com (http unless https:// is given); the SDK puts the project in front of it."},
	{Name: "access.key.id", Type: api.TypeString, Required: true, Check: checkLen(256),
		Description: "AccessKey ID (of a RAM user or of STS credentials)."},
	{Name: "access.key.secret", Type: api.TypeString, Required: true, Secret: true, Check: checkLen(256),
		Description: "AccessKey secret."},
	{Name: "security.token", Type: api.TypeString, Secret: true, Check: checkLen(8192),
		Description: "STS security token, with temporary access keys."},
	{Name: "signature.version", Type: api.TypeString, Default: "v1", Enum: []string{"v1", "v4"},
		Description: "Request signature: v1 (HMAC-SHA1) or v4 (HMAC-SHA256, needs region)."},
	{Name: "region", Type: api.TypeString, Check: checkRegion,
		Description: "Region id such as cn-hangzhou; required with signature.version=v4."},
	{Name: "connect.address", Type: api.TypeString, Check: checkHostPort,
		Description: "host:port to connect to instead of <project>.<endpoint> (a proxy, a private link, an emulator); requests still name the endpoint, and HTTPS still verifies its name."},
	{Name: "request.timeout", Type: api.TypeDuration, Default: "30s", Check: api.DurationRange(time.Second, 5*time.Minute),
		Description: "Time one request, with the SDK's own retries of 5xx answers, may take."},
}

var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

// checkEndpoint accepts host[:port], optionally after http:// or https://,
// and nothing else: the SDK makes "<project>.<endpoint>" of it.
func checkEndpoint(v string) error {
	if len(v) > maxEndpointLen {
		return fmt.Errorf("is longer than %d bytes", maxEndpointLen)
	}
	rest := v
	for _, p := range []string{"http://", "https://"} {
		rest = strings.TrimPrefix(rest, p)
	}
	if strings.Contains(rest, "://") {
		return fmt.Errorf("must be http://, https:// or no scheme, got %q", v)
	}
	u, err := url.Parse("http://" + strings.TrimSuffix(rest, "/"))
	if err != nil || u.Path != "" || u.RawQuery != "" || u.User != nil || u.Fragment != "" || !hostName.MatchString(u.Hostname()) {
		return fmt.Errorf("must be a host name and optional port, such as cn-hangzhou.log.aliyuncs.com, got %q", v)
	}
	return nil
}

var regionName = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

func checkRegion(v string) error {
	if !regionName.MatchString(v) {
		return fmt.Errorf("must be a region id such as cn-hangzhou, got %q", truncate(v))
	}
	return nil
}

func checkHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil || host == "" || port == "" || len(v) > maxEndpointLen {
		return fmt.Errorf("must be host:port, got %q", truncate(v))
	}
	return nil
}

func checkLen(n int) func(string) error {
	return func(v string) error {
		if len(v) > n {
			return fmt.Errorf("is longer than %d bytes", n)
		}
		return nil
	}
}

// validateConn checks what spans several connection fields.
func validateConn(c api.Config) []api.FieldError {
	if c.String("signature.version") == "v4" && c.String("region") == "" {
		return []api.FieldError{{Field: "region", Message: "is required with signature.version=v4"}}
	}
	return nil
}

// truncate bounds a hostile value quoted in an error.
func truncate(v string) string {
	const n = 64
	if len(v) <= n {
		return v
	}
	return v[:n] + "…"
}

// conn is a parsed connection spec.
type conn struct {
	endpoint, keyID, secret, token string
	v4                             bool
	region                         string
	connect                        string
	timeout                        time.Duration
}

func connOf(c api.Config) conn {
	return conn{
		endpoint: strings.TrimSuffix(c.String("endpoint"), "/"),
		keyID:    c.String("access.key.id"),
		secret:   c.String("access.key.secret"),
		token:    c.String("security.token"),
		v4:       c.String("signature.version") == "v4",
		region:   c.String("region"),
		connect:  c.String("connect.address"),
		timeout:  c.Duration("request.timeout"),
	}
}

// client builds the SDK client over t.
func (c conn) client(t *transport) *aliyun.Client {
	cli := aliyun.CreateNormalInterface(c.endpoint, c.keyID, c.secret, c.token).(*aliyun.Client)
	cli.SetHTTPClient(&http.Client{Transport: t, Timeout: c.timeout})
	cli.SetRetryTimeout(c.timeout)
	if c.v4 {
		cli.SetAuthVersion(aliyun.AuthV4)
		cli.SetRegion(c.region)
	} else {
		cli.SetAuthVersion(aliyun.AuthV1)
	}
	return cli
}

// transport sends the SDK's requests with the ctx of the call that makes
// them (the SDK takes none; the sink sets it with use), and to
// connect.address when that is set.
type transport struct {
	base *http.Transport
	ctx  atomic.Pointer[context.Context]
}

func newTransport(connect string, timeout time.Duration) *transport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	// SLS bodies carry their own compression headers; the transport must
	// not add or strip gzip.
	base.DisableCompression = true
	base.MaxIdleConnsPerHost = 64
	if connect != "" {
		d := &net.Dialer{Timeout: timeout}
		base.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, connect)
		}
	}
	return &transport{base: base}
}

// use makes the requests that follow honour ctx (nil: none).
func (t *transport) use(ctx context.Context) {
	if ctx == nil {
		t.ctx.Store(nil)
		return
	}
	t.ctx.Store(&ctx)
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if p := t.ctx.Load(); p != nil {
		req = req.WithContext(*p)
	}
	return t.base.RoundTrip(req)
}

func (t *transport) close() { t.base.CloseIdleConnections() }
