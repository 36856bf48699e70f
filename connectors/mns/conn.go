package mns

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	ali_mns "github.com/aliyun/aliyun-mns-go-sdk"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit/alicloud"
)

// connFields are the settings that reach an MNS account: the endpoint and
// the access key, shared by everything in this package that talks to MNS.
// MNS signs requests one way only (HMAC-SHA1 over the canonical request),
// so there is no signature version to choose.
var connFields = func() api.Spec {
	s := api.Spec{{Name: "endpoint", Type: api.TypeString, Required: true, Check: checkEndpoint,
		Description: "The account's MNS endpoint, http(s)://<account id>.mns.<region>.aliyuncs.com (also the -internal and -internal-vpc forms)."}}
	s = append(s, alicloud.KeyFields...)
	return append(s, alicloud.RouteFields("10s")...)
}()

// checkEndpoint accepts what the SDK accepts without panicking: an http or
// https URL with no path whose text has exactly five dot-separated parts
// (the SDK reads the account id and the region from them).
func checkEndpoint(v string) error {
	if len(v) > alicloud.MaxEndpointLen {
		return fmt.Errorf("is longer than %d bytes", alicloud.MaxEndpointLen)
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

// conn is a parsed connection spec.
type conn struct{ alicloud.Settings }

func connOf(c api.Config) conn { return conn{alicloud.SettingsOf(c)} }

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
		EndPoint:        c.Endpoint,
		AccessKeyId:     c.KeyID,
		AccessKeySecret: c.Secret,
		Token:           c.Token,
		TimeoutSecond:   int64((c.Timeout + time.Second - 1) / time.Second),
	})
	cli.SetTransport(t)
	return cli, nil
}
