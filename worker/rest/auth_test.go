package rest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/worker/rest"
)

const (
	adminToken = "admin-token-0123456789abcdef"
	readToken  = "read-token-0123456789abcdef"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func authServer(t *testing.T, cfg rest.Config) http.Handler {
	t.Helper()
	cfg.Controller = newRestFake()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8083"
	}
	s, err := rest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler()
}

func authDo(h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.Host = "127.0.0.1:8083"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const createBody = `{"name":"x","config":{"source":"generator","sink":"file","sink.path":"/tmp/x"}}`

// TestTokenAuth: every route but /health needs a token; the read role may
// only read; the tokens file is re-read when it changes.
func TestTokenAuth(t *testing.T) {
	t.Parallel()
	tokens := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, tokens, "# operators\n"+adminToken+"\n"+readToken+" read\n")
	h := authServer(t, rest.Config{Auth: rest.AuthConfig{Mode: rest.AuthToken, TokensFile: tokens}})
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	cases := []struct {
		name         string
		method, path string
		body         string
		header       []string
		want         int
	}{
		{"no token", "GET", "/connectors", "", nil, 401},
		{"wrong token", "GET", "/connectors", "", bearer("not-a-token-0123456789"), 401},
		{"basic instead of bearer", "GET", "/connectors", "", []string{"Authorization", "Basic YWRtaW46eA=="}, 401},
		{"health is public", "GET", "/health", "", nil, 200},
		{"metrics need a token", "GET", "/metrics", "", nil, 401},
		{"root needs a token", "GET", "/", "", nil, 401},
		{"read may read", "GET", "/connectors", "", bearer(readToken), 200},
		{"read may read metrics", "GET", "/metrics", "", bearer(readToken), 200},
		{"read may not create", "POST", "/connectors", createBody, bearer(readToken), 403},
		{"read may not validate", "PUT", "/connector-plugins/file/config/validate", `{"sink.path":"x"}`, bearer(readToken), 403},
		{"no token may not create", "POST", "/connectors", createBody, nil, 401},
		{"admin may create", "POST", "/connectors", createBody, bearer(adminToken), 201},
	}
	for _, tc := range cases {
		rec := authDo(h, tc.method, tc.path, tc.body, tc.header...)
		if rec.Code != tc.want {
			t.Errorf("%s: %s %s = %d, want %d (%s)", tc.name, tc.method, tc.path, rec.Code, tc.want, rec.Body)
		}
		if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
	}

	// Rotate: the read token goes, a new one comes; no restart.
	const newToken = "rotated-token-0123456789abcdef"
	writeFile(t, tokens, adminToken+" admin\n"+newToken+" read\n")
	future := time.Now().Add(2 * time.Second)
	_ = os.Chtimes(tokens, future, future) // a new stamp even on coarse clocks
	time.Sleep(1100 * time.Millisecond)
	if rec := authDo(h, "GET", "/connectors", "", bearer(newToken)...); rec.Code != 200 {
		t.Errorf("new token after reload: %d", rec.Code)
	}
	if rec := authDo(h, "GET", "/connectors", "", bearer(readToken)...); rec.Code != 401 {
		t.Errorf("removed token after reload: %d", rec.Code)
	}
	// A broken file keeps the last good credentials.
	writeFile(t, tokens, "short\n")
	future = future.Add(2 * time.Second)
	_ = os.Chtimes(tokens, future, future)
	time.Sleep(1100 * time.Millisecond)
	if rec := authDo(h, "GET", "/connectors", "", bearer(newToken)...); rec.Code != 200 {
		t.Errorf("after a broken reload the last good tokens must hold: %d", rec.Code)
	}
}

func TestPublicMetrics(t *testing.T) {
	t.Parallel()
	tokens := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, tokens, adminToken+"\n")
	h := authServer(t, rest.Config{Auth: rest.AuthConfig{Mode: rest.AuthToken, TokensFile: tokens, PublicMetrics: true}})
	if rec := authDo(h, "GET", "/metrics", ""); rec.Code != 200 {
		t.Fatalf("public metrics: %d", rec.Code)
	}
	if rec := authDo(h, "GET", "/connectors", ""); rec.Code != 401 {
		t.Fatalf("connectors with public metrics: %d", rec.Code)
	}
}

func TestBasicAuth(t *testing.T) {
	t.Parallel()
	users := filepath.Join(t.TempDir(), "users")
	sum := sha256.Sum256([]byte("hashed pw"))
	writeFile(t, users, "alice:plain-pw\nbob:sha256:"+hex.EncodeToString(sum[:])+" read\n")
	h := authServer(t, rest.Config{Auth: rest.AuthConfig{Mode: rest.AuthBasic, UsersFile: users}})
	basic := func(u, p string) []string {
		req := httptest.NewRequest("GET", "/", nil)
		req.SetBasicAuth(u, p)
		return []string{"Authorization", req.Header.Get("Authorization")}
	}
	for _, tc := range []struct {
		name, method, path, body string
		header                   []string
		want                     int
	}{
		{"alice creates", "POST", "/connectors", createBody, basic("alice", "plain-pw"), 201},
		{"alice wrong password", "GET", "/connectors", "", basic("alice", "plain-px"), 401},
		{"bob reads with the hashed password", "GET", "/connectors", "", basic("bob", "hashed pw"), 200},
		{"bob may not delete", "DELETE", "/connectors/x", "", basic("bob", "hashed pw"), 403},
		{"bob with the hash itself", "GET", "/connectors", "", basic("bob", "sha256:"+hex.EncodeToString(sum[:])), 401},
		{"unknown user", "GET", "/connectors", "", basic("eve", "plain-pw"), 401},
	} {
		if rec := authDo(h, tc.method, tc.path, tc.body, tc.header...); rec.Code != tc.want {
			t.Errorf("%s: %d, want %d (%s)", tc.name, rec.Code, tc.want, rec.Body)
		}
	}
}

func TestAuthConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	writeFile(t, short, "tooshort\n")
	badRole := filepath.Join(dir, "role")
	writeFile(t, badRole, adminToken+" root\n")
	for _, tc := range []struct {
		name string
		cfg  rest.Config
		want string
	}{
		{"open on all interfaces", rest.Config{Addr: "0.0.0.0:0"}, "choose its authentication"},
		{"token without file", rest.Config{Auth: rest.AuthConfig{Mode: rest.AuthToken}}, "needs a tokens file"},
		{"missing file", rest.Config{Auth: rest.AuthConfig{Mode: rest.AuthToken, TokensFile: filepath.Join(dir, "nope")}}, "no such file"},
		{"short token", rest.Config{Auth: rest.AuthConfig{Mode: rest.AuthToken, TokensFile: short}}, "line 1: a token must be at least 16"},
		{"bad role", rest.Config{Auth: rest.AuthConfig{Mode: rest.AuthToken, TokensFile: badRole}}, "line 1: role must be read or admin"},
		{"unknown mode", rest.Config{Auth: rest.AuthConfig{Mode: "kerberos"}}, "unknown REST authentication mode"},
		{"mtls without client CA", rest.Config{Auth: rest.AuthConfig{Mode: rest.AuthMTLS}}, "needs TLS with a client CA"},
	} {
		tc.cfg.Controller = newRestFake()
		_, err := rest.New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "tooshort") || strings.Contains(err.Error(), adminToken)) {
			t.Errorf("%s: the error quotes the file's content: %v", tc.name, err)
		}
	}
}

// TestOpenAPIOnAllInterfacesWarns: auth none on a reachable address is
// allowed when chosen, and GET / says it is unsafe.
func TestOpenAPIOnAllInterfacesWarns(t *testing.T) {
	t.Parallel()
	h := authServer(t, rest.Config{Addr: "0.0.0.0:0", Auth: rest.AuthConfig{Mode: rest.AuthNone}})
	rec := authDo(h, "GET", "/", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"warnings":["the REST API listens on 0.0.0.0:0 without authentication`) {
		t.Fatalf("GET / = %d %s", rec.Code, rec.Body)
	}
	loop := authServer(t, rest.Config{})
	if rec := authDo(loop, "GET", "/", ""); strings.Contains(rec.Body.String(), "warnings") {
		t.Fatalf("loopback worker warns: %s", rec.Body)
	}
}

// testCA is a throwaway CA that signs server and client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ferry test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM certificate and key for cn, with the given serial.
func (ca *testCA) issue(t *testing.T, cn string, serial int64, client bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{"localhost"}}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func runServer(t *testing.T, cfg rest.Config) string {
	t.Helper()
	cfg.Controller = newRestFake()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Addr = "127.0.0.1:0"
	s, err := rest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-s.Ready()
	return s.Addr()
}

// TestTLSReloadAndMTLS: the REST listener serves TLS, picks up a renewed
// certificate without a restart, and in mtls mode admits exactly the
// clients whose certificate chains to the client CA.
func TestTLSReloadAndMTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile, caFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	c, k := ca.issue(t, "localhost", 100, false)
	writeFile(t, certFile, string(c))
	writeFile(t, keyFile, string(k))
	writeFile(t, caFile, string(ca.pem))
	addr := runServer(t, rest.Config{
		Auth: rest.AuthConfig{Mode: rest.AuthMTLS},
		TLS:  &rest.TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile},
	})
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	cc, ck := ca.issue(t, "operator", 7, true)
	clientCert, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	get := func(withCert bool) (*http.Response, error) {
		tc := &tls.Config{RootCAs: roots, ServerName: "localhost"}
		if withCert {
			tc.Certificates = []tls.Certificate{clientCert}
		}
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second}
		defer cl.CloseIdleConnections()
		req, _ := http.NewRequest("POST", "https://"+addr+"/connectors", strings.NewReader(createBody))
		req.Header.Set("Content-Type", "application/json")
		return cl.Do(req)
	}
	if _, err := get(false); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	resp, err := get(true)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("mtls admin create: %d", resp.StatusCode)
	}
	if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 100 {
		t.Fatalf("served serial %d", got)
	}

	// Renew the certificate in place.
	c, k = ca.issue(t, "localhost", 101, false)
	writeFile(t, certFile, string(c))
	writeFile(t, keyFile, string(k))
	future := time.Now().Add(2 * time.Second)
	_ = os.Chtimes(certFile, future, future)
	_ = os.Chtimes(keyFile, future, future)
	time.Sleep(1100 * time.Millisecond)
	resp, err = get(true)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 101 {
		t.Fatalf("after renewal the server still serves serial %d", got)
	}
}
