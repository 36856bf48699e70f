package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ferryhq/ferry/worker/rest"
)

// restOptions are the REST listener's security flags, shared by
// `ferry standalone` and `ferry worker` (docs/security.md).
type restOptions struct {
	auth           string
	tokensFile     string
	usersFile      string
	publicMetrics  bool
	tlsCert        string
	tlsKey         string
	tlsClientCA    string
	tlsPeerCA      string
	allowedHosts   []string
	allowedOrigins []string
	maxBodyBytes   int64
}

func (o *restOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.auth, "rest-auth", "", "REST authentication: none, basic, token or mtls (default: none on a loopback --listen, required otherwise)")
	f.StringVar(&o.tokensFile, "rest-auth-tokens", "", "token mode: file of bearer tokens, one a line, each optionally followed by a role (read or admin, the default); re-read on change")
	f.StringVar(&o.usersFile, "rest-auth-users", "", "basic mode: file of user:password lines (password or sha256:HEX), each optionally followed by a role; re-read on change")
	f.BoolVar(&o.publicMetrics, "rest-public-metrics", false, "serve GET /metrics without credentials")
	f.StringVar(&o.tlsCert, "rest-tls-cert", "", "PEM certificate chain: serve the REST API over HTTPS (re-read on change)")
	f.StringVar(&o.tlsKey, "rest-tls-key", "", "PEM private key of --rest-tls-cert")
	f.StringVar(&o.tlsClientCA, "rest-tls-client-ca", "", "PEM CA bundle: require client certificates that chain to it (mTLS)")
	f.StringVar(&o.tlsPeerCA, "rest-tls-peer-ca", "", "cluster workers: PEM CA bundle that verifies the other workers' REST certificates when forwarding to them (default: the system's roots)")
	f.StringSliceVar(&o.allowedHosts, "rest-allowed-hosts", nil, "host names the REST API answers to besides IP addresses, localhost, this machine's name and the --listen host; * for any")
	f.StringSliceVar(&o.allowedOrigins, "rest-allowed-origins", nil, "origins (scheme://host[:port]) whose web pages may call the REST API; * for any")
	f.Int64Var(&o.maxBodyBytes, "rest-max-body-bytes", 1<<20, "largest REST request body; larger bodies get 413")
}

// serverConfig fills the security part of a REST server's config.
func (o restOptions) serverConfig(cfg rest.Config) (rest.Config, error) {
	// Zero (options built in code, not from flags) keeps the server's
	// default.
	if o.maxBodyBytes != 0 && (o.maxBodyBytes < 1024 || o.maxBodyBytes > 64<<20) {
		return cfg, fmt.Errorf("--rest-max-body-bytes must be between 1024 and %d", 64<<20)
	}
	cfg.MaxBodyBytes = o.maxBodyBytes
	cfg.Auth = rest.AuthConfig{
		Mode:          rest.AuthMode(strings.ToLower(o.auth)),
		TokensFile:    o.tokensFile,
		UsersFile:     o.usersFile,
		PublicMetrics: o.publicMetrics,
	}
	switch {
	case o.tlsCert != "" || o.tlsKey != "":
		cfg.TLS = &rest.TLSConfig{CertFile: o.tlsCert, KeyFile: o.tlsKey, ClientCAFile: o.tlsClientCA}
	case o.tlsClientCA != "":
		return cfg, fmt.Errorf("--rest-tls-client-ca needs --rest-tls-cert and --rest-tls-key")
	}
	cfg.AllowedHosts = o.allowedHosts
	cfg.AllowedOrigins = o.allowedOrigins
	return cfg, nil
}

// peerClient is the HTTP client a cluster worker forwards writes to the
// leader with: it verifies the leader's certificate with --rest-tls-peer-ca
// and, where workers demand client certificates, presents this worker's
// own. Callers' credentials travel with each forwarded request.
func (o restOptions) peerClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.tlsPeerCA != "" {
		pem, err := os.ReadFile(o.tlsPeerCA)
		if err != nil {
			return nil, fmt.Errorf("--rest-tls-peer-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--rest-tls-peer-ca %s holds no PEM certificate", o.tlsPeerCA)
		}
		tc.RootCAs = pool
	}
	if o.tlsClientCA != "" {
		certFile, keyFile := o.tlsCert, o.tlsKey
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			// Read at each handshake, so a renewed certificate is used.
			kp, err := tls.LoadX509KeyPair(certFile, keyFile)
			return &kp, err
		}
	}
	tr.TLSClientConfig = tc
	return &http.Client{Timeout: 60 * time.Second, Transport: tr}, nil
}

// scheme is the REST URL's scheme under these flags.
func (o restOptions) scheme() string {
	if o.tlsCert != "" {
		return "https"
	}
	return "http"
}
