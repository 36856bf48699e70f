package sls

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
	{Name: "access.key.id", Type: api.TypeString, Required: true, Check: api.MaxLen(256),
		Description: "AccessKey ID (of a RAM user or of STS credentials)."},
	{Name: "access.key.secret", Type: api.TypeString, Required: true, Secret: true, Check: api.MaxLen(256),
		Description: "AccessKey secret."},
	{Name: "security.token", Type: api.TypeString, Secret: true, Check: api.MaxLen(8192),
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
	// answerCancel makes a request whose ctx is done get SLS's error
	// answer (HTTP 499, code RequestCanceled) instead of a transport
	// error: the SDK retries every transport error of a GET until its
	// retry timeout, which would hold a cancelled source's Read for that
	// long, but gives up at once on an SLS error below 500.
	answerCancel bool
	// timeout, when set, is each request's deadline, applied here rather
	// than by http.Client.Timeout: some SDK calls (CreateConsumerGroup,
	// UpdateCheckpoint) never close their answer, which would keep the
	// client's timer goroutine and the connection until the timeout. With
	// it, answers to writes (small JSON) are read and closed here.
	timeout time.Duration
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
func (t *transport) use(ctx context.Context) { t.ctx.Store(&ctx) }

// release ends what use began: requests no longer follow a ctx.
func (t *transport) release() { t.ctx.Store(nil) }

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	p := t.ctx.Load()
	if p == nil {
		return t.base.RoundTrip(req)
	}
	ctx := *p
	if t.answerCancel && ctx.Err() != nil {
		return cancelAnswer(req, ctx.Err()), nil
	}
	if t.timeout == 0 {
		resp, err := t.base.RoundTrip(req.WithContext(ctx))
		if err != nil && t.answerCancel && ctx.Err() != nil {
			return cancelAnswer(req, ctx.Err()), nil
		}
		return resp, err
	}
	rctx, cancel := context.WithTimeout(ctx, t.timeout)
	resp, err := t.base.RoundTrip(req.WithContext(rctx))
	if err != nil {
		cancel()
		if t.answerCancel && ctx.Err() != nil {
			return cancelAnswer(req, ctx.Err()), nil
		}
		return nil, err
	}
	if req.Method == http.MethodGet {
		resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWriteAnswer))
	_ = resp.Body.Close()
	cancel()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// maxWriteAnswer bounds what is read of an answer to a write.
const maxWriteAnswer = 1 << 20

// cancelBody ends a request's deadline when its answer is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// codeCanceled is the error code of cancelAnswer.
const codeCanceled = "RequestCanceled"

// cancelAnswer is the answer to a request whose call was cancelled.
func cancelAnswer(req *http.Request, cause error) *http.Response {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	body := fmt.Sprintf(`{"errorCode":%q,"errorMessage":%q}`, codeCanceled, cause.Error())
	return &http.Response{
		Status: "499 Client Closed Request", StatusCode: 499, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

func (t *transport) close() { t.base.CloseIdleConnections() }
