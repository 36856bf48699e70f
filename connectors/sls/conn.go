package sls

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit/alicloud"
)

// connFields are the settings that reach an SLS project: the endpoint, the
// access key and the signature, shared by everything in this package that
// talks to SLS.
var connFields = func() api.Spec {
	s := api.Spec{{Name: "endpoint", Type: api.TypeString, Required: true, Check: checkEndpoint,
		Description: "The region's SLS endpoint, such as cn-hangzhou.log.aliyuncs.com or https://cn-hangzhou-intranet.log.aliyuncs.com (http unless https:// is given); the SDK puts the project in front of it."}}
	s = append(s, alicloud.KeyFields...)
	s = append(s, alicloud.SignatureFields...)
	return append(s, alicloud.RouteFields("30s")...)
}()

var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

// checkEndpoint accepts host[:port], optionally after http:// or https://,
// and nothing else: the SDK makes "<project>.<endpoint>" of it.
func checkEndpoint(v string) error {
	if len(v) > alicloud.MaxEndpointLen {
		return fmt.Errorf("is longer than %d bytes", alicloud.MaxEndpointLen)
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

// conn is a parsed connection spec.
type conn struct{ alicloud.Settings }

func connOf(c api.Config) conn { return conn{alicloud.SettingsOf(c)} }

// client builds the SDK client over t.
func (c conn) client(t *transport) *aliyun.Client {
	cli := aliyun.CreateNormalInterface(c.Endpoint, c.KeyID, c.Secret, c.Token).(*aliyun.Client)
	cli.SetHTTPClient(&http.Client{Transport: t, Timeout: c.Timeout})
	cli.SetRetryTimeout(c.Timeout)
	if c.SignV4 {
		cli.SetAuthVersion(aliyun.AuthV4)
		cli.SetRegion(c.Region)
	} else {
		cli.SetAuthVersion(aliyun.AuthV1)
	}
	return cli
}

// transport sends the SDK's requests with the ctx of the call that makes
// them (the SDK takes none; the sink sets it with Use), and to
// connect.address when that is set.
type transport struct {
	base *http.Transport
	alicloud.CallContext
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
	return &transport{base: alicloud.HTTPTransport(connect, timeout)}
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := t.Get()
	if ctx == nil {
		return t.base.RoundTrip(req)
	}
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
