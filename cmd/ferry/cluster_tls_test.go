package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestClusterTLSAndTokens runs two cluster workers whose REST APIs serve
// TLS and want bearer tokens. A write sent to the follower is forwarded to
// the leader over TLS (verified with --rest-tls-peer-ca) with the caller's
// own token, which the leader checks again: an admin's create succeeds, a
// read token's is refused (403) and no token is refused (401), whichever
// worker the request lands on.
func TestClusterTLSAndTokens(t *testing.T) {
	ferryBinary(t) // skips under -short
	nameSrv := testbed.RocketMQ(t)
	dir := t.TempDir()
	const admin, reader = "cluster-admin-token-0123456789", "cluster-read-token-0123456789"
	// The second worker also knows a token the first does not: a write it
	// forwards with that token is refused by the leader (the first to
	// start), and the refusal keeps its status.
	const stray = "second-worker-only-token-01234"
	tokens := []string{filepath.Join(dir, "tokens0"), filepath.Join(dir, "tokens1")}
	writeTestFile(t, tokens[0], admin+"\n"+reader+" read\n")
	writeTestFile(t, tokens[1], admin+"\n"+reader+" read\n"+stray+"\n")
	caPEM, certPEM, keyPEM := testCertificates(t)
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeTestFile(t, ca, string(caPEM))
	writeTestFile(t, cert, string(certPEM))
	writeTestFile(t, key, string(keyPEM))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)

	name := newClusterName()
	seed := freeAddr(t)
	var workers []*proc
	for i := range 2 {
		listen, gossip := freeAddr(t), seed
		args := []string{"worker", "--cluster", name, "--data-dir", filepath.Join(dir, "w"+string(rune('0'+i))),
			"--listen", listen, "--rocketmq", nameSrv, "--grace", "500ms",
			"--rest-auth", "token", "--rest-auth-tokens", tokens[i],
			"--rest-tls-cert", cert, "--rest-tls-key", key, "--rest-tls-peer-ca", ca}
		if i > 0 {
			gossip = freeAddr(t)
			args = append(args, "--join", seed)
		}
		args = append(args, "--gossip", gossip)
		w := startFerryWith(t, args, "https://"+listen, client, 60*time.Second)
		w.token = admin
		workers = append(workers, w)
	}
	var leader string
	waitFor(t, "two members and a leader on both workers", 30*time.Second, func() bool {
		for _, w := range workers {
			code, body := w.do("GET", "/cluster", nil)
			if code != 200 || strings.Count(string(body), `"state":"alive"`) != 2 || !strings.Contains(string(body), "https://") {
				return false
			}
			leader = leaderOf(body)
		}
		return leader != ""
	})
	follower := workers[0]
	if strings.Contains(follower.url, leader) {
		follower = workers[1]
	}

	create := func(token, conn string) (int, []byte) {
		follower.token = token
		defer func() { follower.token = admin }()
		return follower.do("POST", "/connectors", map[string]any{"name": conn, "config": map[string]string{
			"source": "generator", "source.count": "10", "sink": "drop"}})
	}
	if code, body := create(admin, "through-follower"); code != http.StatusCreated {
		t.Fatalf("admin create through the follower: HTTP %d %s", code, body)
	}
	if code, body := create(reader, "read-only"); code != http.StatusForbidden {
		t.Fatalf("read token's create: HTTP %d %s, want 403", code, body)
	}
	if code, body := create("", "anonymous"); code != http.StatusUnauthorized {
		t.Fatalf("create without a token: HTTP %d %s, want 401", code, body)
	}
	if code, body := create(stray, "stray"); code != http.StatusUnauthorized || (follower == workers[1] && !strings.Contains(string(body), "forwarded to the leader")) {
		t.Fatalf("create with a token only the follower knows: HTTP %d %s, want the leader's 401", code, body)
	}
	// Plain HTTP to a TLS listener gets nothing.
	if resp, err := http.Get("http://" + strings.TrimPrefix(follower.url, "https://") + "/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP was served")
		}
	}
	// Both workers see the connector (it reached the leader's store).
	for _, w := range workers {
		waitFor(t, "the connector on "+w.url, 20*time.Second, func() bool {
			code, _ := w.do("GET", "/connectors/through-follower", nil)
			return code == 200
		})
	}
}

// leaderOf reads the leader's id out of a GET /cluster answer.
func leaderOf(body []byte) string {
	const key = `"leader":"`
	i := strings.Index(string(body), key)
	if i < 0 {
		return ""
	}
	rest := string(body)[i+len(key):]
	return rest[:strings.IndexByte(rest, '"')]
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// testCertificates returns a throwaway CA and a server certificate for
// 127.0.0.1 and localhost signed by it, as PEM.
func testCertificates(t *testing.T) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ferry test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "ferry worker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
