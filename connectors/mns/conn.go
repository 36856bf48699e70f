package mns

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	ali_mns "github.com/aliyun/aliyun-mns-go-sdk"

	"github.com/ferryhq/ferry/api"
)

// maxEndpointLen bounds the endpoint URL (a host name is at most 253).
const maxEndpointLen = 300

// connFields are the settings that reach an MNS account: the endpoint and
// the access key, shared by everything in this package that talks to MNS.
// MNS signs requests one way only (HMAC-SHA1 over the canonical request),
// so there is no signature version to choose.
var connFields = api.Spec{
	{Name: "endpoint", Type: api.TypeString, Required: true, Check: checkEndpoint,
		Description: "The account's MNS endpoint, http(s)://<account id>.mns.<region>.aliyuncs.com (also the -internal and -internal-vpc forms)."},
	{Name: "access.key.id", Type: api.TypeString, Required: true, Check: api.MaxLen(256),
		Description: "AccessKey ID (of a RAM user or of STS credentials)."},
	{Name: "access.key.secret", Type: api.TypeString, Required: true, Secret: true, Check: api.MaxLen(256),
		Description: "AccessKey secret."},
	{Name: "security.token", Type: api.TypeString, Secret: true, Check: api.MaxLen(8192),
		Description: "STS security token, with temporary access keys."},
	{Name: "connect.address", Type: api.TypeString, Check: checkHostPort,
		Description: "host:port to connect to instead of the endpoint's host (a proxy, a private link, an emulator); requests still name the endpoint, and HTTPS still verifies its name."},
	{Name: "request.timeout", Type: api.TypeDuration, Default: "10s", Check: api.DurationRange(time.Second, 5*time.Minute),
		Description: "Time one request may take."},
}

// checkEndpoint accepts what the SDK accepts without panicking: an http or
// https URL with no path whose text has exactly five dot-separated parts
// (the SDK reads the account id and the region from them).
func checkEndpoint(v string) error {
	if len(v) > maxEndpointLen {
		return fmt.Errorf("is longer than %d bytes", maxEndpointLen)
	}
	u, err := url.Parse(strings.TrimSuffix(v, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an http:// or https:// URL such as https://123456789.mns.cn-hangzhou.aliyuncs.com")
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("must be scheme and host only, got %q", v)
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) != 5 || parts[1] != "mns" || slicesContainEmpty(parts) {
		return fmt.Errorf("must name the account endpoint <account id>.mns.<region>.aliyuncs.com, got host %q", u.Hostname())
	}
	return nil
}

func slicesContainEmpty(parts []string) bool {
	for _, p := range parts {
		if p == "" {
			return true
		}
	}
	return false
}

// checkHostPort accepts host:port with a port.
func checkHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil || host == "" || port == "" || len(v) > maxEndpointLen {
		return fmt.Errorf("must be host:port, got %q", v)
	}
	return nil
}

// conn is a parsed connection spec.
type conn struct {
	endpoint string
	keyID    string
	secret   string
	token    string
	connect  string
	timeout  time.Duration
}

func connOf(c api.Config) conn {
	return conn{
		endpoint: strings.TrimSuffix(c.String("endpoint"), "/"),
		keyID:    c.String("access.key.id"),
		secret:   c.String("access.key.secret"),
		token:    c.String("security.token"),
		connect:  c.String("connect.address"),
		timeout:  c.Duration("request.timeout"),
	}
}

// client builds the SDK client over t. The SDK panics on what it cannot
// parse; checkEndpoint keeps that from happening, and a panic that still
// comes through is an error here.
func (c conn) client(t *transport) (cli ali_mns.MNSClient, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errEndpoint, r)
		}
	}()
	cli = ali_mns.NewAliMNSClientWithConfig(ali_mns.AliMNSClientConfig{
		EndPoint:        c.endpoint,
		AccessKeyId:     c.keyID,
		AccessKeySecret: c.secret,
		Token:           c.token,
		TimeoutSecond:   int64((c.timeout + time.Second - 1) / time.Second),
	})
	cli.SetTransport(t)
	return cli, nil
}
