package http

import (
	"net/netip"
	"testing"
)

func TestAccess(t *testing.T) {
	t.Parallel()
	mustPrefix := func(s string) access {
		p, err := parsePrefix(s)
		if err != nil {
			t.Fatal(err)
		}
		return access{cidrs: append([]netip.Prefix(nil), p)}
	}
	tests := []struct {
		name    string
		a       access
		remote  string
		referer string
		ok      bool
	}{
		{"open", access{}, "1.2.3.4:5", "", true},
		{"in cidr", mustPrefix("10.0.0.0/8"), "10.9.8.7:1", "", true},
		{"out of cidr", mustPrefix("10.0.0.0/8"), "11.0.0.1:1", "", false},
		{"bare address", mustPrefix("127.0.0.1"), "127.0.0.1:80", "", true},
		{"ipv4-mapped ipv6 peer", mustPrefix("127.0.0.0/8"), "[::ffff:127.0.0.1]:80", "", true},
		{"ipv6", mustPrefix("fd00::/8"), "[fd12::1]:80", "", true},
		{"ipv6 out", mustPrefix("fd00::/8"), "[::1]:80", "", false},
		{"unparsable peer", mustPrefix("10.0.0.0/8"), "pipe", "", false},
		{"referer exact", access{referers: []string{"example.com"}}, "1.1.1.1:1", "http://example.com/x", true},
		{"referer sub", access{referers: []string{"example.com"}}, "1.1.1.1:1", "https://a.b.example.com./x", true},
		{"referer suffix trick", access{referers: []string{"example.com"}}, "1.1.1.1:1", "https://example.com.evil.net/", false},
		{"referer not url", access{referers: []string{"example.com"}}, "1.1.1.1:1", "example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.a.allowAddr(tt.remote)
			if err == nil {
				err = tt.a.allowReferer(tt.referer)
			}
			if (err == nil) != tt.ok {
				t.Fatalf("allowed = %v (%v), want %v", err == nil, err, tt.ok)
			}
		})
	}
}
