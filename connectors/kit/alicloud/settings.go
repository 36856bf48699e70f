package alicloud

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
)

// MaxEndpointLen bounds an endpoint or address (a host name is at most 253
// bytes).
const MaxEndpointLen = 300

// Signature versions.
const (
	SignV1 = "v1" // HMAC-SHA1 over the canonical request
	SignV4 = "v4" // HMAC-SHA256 with a signing key scoped to region and day
)

// KeyFields are the credentials: an AccessKey pair and an optional STS
// token.
var KeyFields = api.Spec{
	{Name: "access.key.id", Type: api.TypeString, Required: true, Check: api.MaxLen(256),
		Description: "AccessKey ID (of a RAM user or of STS credentials)."},
	{Name: "access.key.secret", Type: api.TypeString, Required: true, Secret: true, Check: api.MaxLen(256),
		Description: "AccessKey secret."},
	{Name: "security.token", Type: api.TypeString, Secret: true, Check: api.MaxLen(8192),
		Description: "STS security token, with temporary access keys."},
}

// SignatureFields choose how requests are signed, for services whose SDK
// offers more than one way. v1 stays the default: it is what the SDKs use
// unless told otherwise.
var SignatureFields = api.Spec{
	{Name: "signature.version", Type: api.TypeString, Default: SignV1, Enum: []string{SignV1, SignV4},
		Description: "Request signature: v1 (HMAC-SHA1) or v4 (HMAC-SHA256, needs region)."},
	{Name: "region", Type: api.TypeString, Check: CheckRegion,
		Description: "Region id such as cn-hangzhou; required with signature.version=v4."},
}

// RouteFields are where requests go and how long one may take;
// timeout is request.timeout's default.
func RouteFields(timeout string) api.Spec {
	return api.Spec{
		{Name: "connect.address", Type: api.TypeString, Check: CheckHostPort,
			Description: "host:port to connect to instead of the endpoint's host (a proxy, a private link, an emulator); requests still name the endpoint, and HTTPS still verifies its name."},
		{Name: "request.timeout", Type: api.TypeDuration, Default: timeout, Check: api.DurationRange(time.Second, 5*time.Minute),
			Description: "Time one request may take."},
	}
}

var regionName = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

// CheckRegion accepts a region id: 1 to 64 lower-case letters, digits and
// '-'.
func CheckRegion(v string) error {
	if !regionName.MatchString(v) {
		return fmt.Errorf("must be a region id such as cn-hangzhou, got %q", Truncate(v))
	}
	return nil
}

// CheckHostPort accepts host:port with both parts.
func CheckHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil || host == "" || port == "" || len(v) > MaxEndpointLen {
		return fmt.Errorf("must be host:port, got %q", Truncate(v))
	}
	return nil
}

// ValidateSignature checks what spans the signature fields: v4 signs with
// a region, so it needs one.
func ValidateSignature(c api.Config) []api.FieldError {
	if c.String("signature.version") == SignV4 && c.String("region") == "" {
		return []api.FieldError{{Field: "region", Message: "is required with signature.version=v4"}}
	}
	return nil
}

// Truncate bounds a hostile value quoted in an error.
func Truncate(v string) string {
	const n = 64
	if len(v) <= n {
		return v
	}
	return v[:n] + "…"
}

// Credentials are an AccessKey pair and an optional STS token.
type Credentials struct {
	KeyID, Secret, Token string
}

// Settings are the parsed connection settings.
type Settings struct {
	// Endpoint is the endpoint field without a trailing '/'.
	Endpoint string
	Credentials
	// SignV4 is signature.version=v4, signing for Region.
	SignV4 bool
	Region string
	// Connect is connect.address, "" for the endpoint's host.
	Connect string
	Timeout time.Duration
}

// SettingsOf reads the fields of KeyFields, SignatureFields (absent ones
// read as v1) and RouteFields, and the endpoint.
func SettingsOf(c api.Config) Settings {
	return Settings{
		Endpoint: strings.TrimSuffix(c.String("endpoint"), "/"),
		Credentials: Credentials{
			KeyID:  c.String("access.key.id"),
			Secret: c.String("access.key.secret"),
			Token:  c.String("security.token"),
		},
		SignV4:  c.String("signature.version") == SignV4,
		Region:  c.String("region"),
		Connect: c.String("connect.address"),
		Timeout: c.Duration("request.timeout"),
	}
}
