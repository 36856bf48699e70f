package kafka

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
)

func TestConnSpec(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		raw  map[string]string
		want string // "" valid, else the field that fails
	}{
		{"plain", map[string]string{"brokers": "127.0.0.1:9092,h2:9093"}, ""},
		{"scram", map[string]string{"brokers": "h:9092", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "u", "sasl.password": "p"}, ""},
		{"no brokers", map[string]string{}, "brokers"},
		{"no port", map[string]string{"brokers": "localhost"}, "brokers"},
		{"bad port", map[string]string{"brokers": "h:99999"}, "brokers"},
		{"too many brokers", map[string]string{"brokers": strings.Repeat("h:1,", 101) + "h:1"}, "brokers"},
		{"unknown mechanism", map[string]string{"brokers": "h:1", "sasl.mechanism": "GSSAPI"}, "sasl.mechanism"},
		{"plain without password", map[string]string{"brokers": "h:1", "sasl.mechanism": "PLAIN", "sasl.username": "u"}, "sasl.password"},
		{"password without mechanism", map[string]string{"brokers": "h:1", "sasl.password": "p"}, "sasl.mechanism"},
		{"cert without key", map[string]string{"brokers": "h:1", "tls.enabled": "true", "tls.cert.file": "/c"}, "tls.cert.file"},
		{"ca without tls", map[string]string{"brokers": "h:1", "tls.ca.file": "/ca"}, "tls.ca.file"},
		{"huge password", map[string]string{"brokers": "h:1", "sasl.mechanism": "PLAIN", "sasl.username": "u", "sasl.password": strings.Repeat("p", 5000)}, "sasl.password"},
		{"dial timeout", map[string]string{"brokers": "h:1", "dial.timeout": "1000h"}, "dial.timeout"},
	} {
		c, err := connSpec.Parse(tc.raw)
		if err == nil {
			err = validateConn(c)
		}
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		ve, ok := err.(*api.ValidationError)
		if !ok || ve.Fields[0].Field != tc.want {
			t.Errorf("%s: %v, want an error on %s", tc.name, err, tc.want)
		}
	}
}

func TestParseConnFilesFailLoudly(t *testing.T) {
	t.Parallel()
	c, err := connSpec.Parse(map[string]string{"brokers": "h:1", "tls.enabled": "true", "tls.ca.file": "/nonexistent/ca.pem"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseConn(c, "x"); err == nil || !api.IsFatal(err) || !strings.Contains(err.Error(), "tls.ca.file") {
		t.Fatalf("parseConn = %v, want a fatal error naming tls.ca.file", err)
	}
}
