package rest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSConfig makes the REST listener serve HTTPS. The files are re-read
// when they change (checked at most once a second, on new connections),
// so a renewed certificate is served without a restart.
type TLSConfig struct {
	// CertFile and KeyFile are the PEM certificate chain and key. Required.
	CertFile, KeyFile string
	// ClientCAFile, when set, is a PEM bundle of the CAs client
	// certificates must chain to; every client must then present one.
	ClientCAFile string
}

// serverTLS builds the listener's tls.Config over reloading files.
func serverTLS(c TLSConfig, onErr func(error)) (*tls.Config, error) {
	if c.CertFile == "" || c.KeyFile == "" {
		return nil, errors.New("worker: TLS needs both a certificate file and a key file")
	}
	cert, err := newWatched(func() (*tls.Certificate, error) {
		kp, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS certificate %s / key %s: %w", c.CertFile, c.KeyFile, err)
		}
		return &kp, nil
	}, onErr, c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	base := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert.get(), nil },
	}
	if c.ClientCAFile == "" {
		return base, nil
	}
	pool, err := newWatched(func() (*x509.CertPool, error) { return loadCAs(c.ClientCAFile) }, onErr, c.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	base.ClientAuth = tls.RequireAndVerifyClientCert
	base.ClientCAs = pool.get()
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		cfg := base.Clone()
		cfg.GetConfigForClient = nil
		cfg.ClientCAs = pool.get()
		return cfg, nil
	}
	return base, nil
}

// loadCAs reads a PEM bundle of CA certificates.
func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}
