package http

import (
	nethttp "net/http"
	"strings"
	"testing"
	"time"
)

func TestStatusClasses(t *testing.T) {
	t.Parallel()
	must := func(v string) []statusRange {
		r, err := parseStatusRanges(v)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	defaults := statusClasses{}
	override := statusClasses{retry: must("409, 4xx"), drop: must("503,500-502")}
	tests := []struct {
		code            int
		def, overridden class
	}{
		{200, classWritten, classWritten},
		{204, classWritten, classWritten},
		{301, classReject, classReject},
		{400, classReject, classRetry},
		{401, classReject, classRetry},
		{404, classReject, classRetry},
		{408, classRetry, classRetry},
		{409, classReject, classRetry},
		{425, classRetry, classRetry},
		{429, classRetry, classRetry},
		{500, classRetry, classReject},
		{502, classRetry, classReject},
		{503, classRetry, classReject},
		{504, classRetry, classRetry},
		{599, classRetry, classRetry},
	}
	for _, tt := range tests {
		if got := defaults.classify(tt.code); got != tt.def {
			t.Errorf("default classify(%d) = %v, want %v", tt.code, got, tt.def)
		}
		if got := override.classify(tt.code); got != tt.overridden {
			t.Errorf("overridden classify(%d) = %v, want %v", tt.code, got, tt.overridden)
		}
	}
}

func TestParseStatusRanges(t *testing.T) {
	t.Parallel()
	good := map[string][]statusRange{
		"429":             {{429, 429}},
		" 500 - 504 ,5xx": {{500, 504}, {500, 599}},
		"1xx,2XX":         {{100, 199}, {200, 299}},
		"":                nil,
	}
	for in, want := range good {
		got, err := parseStatusRanges(in)
		if err != nil || len(got) != len(want) {
			t.Errorf("%q: %v, %v", in, got, err)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%q: %v, want %v", in, got, want)
			}
		}
	}
	for _, in := range []string{"99", "600", "6xx", "0xx", "abc", "500-400", "500-", "-500", "4x", "429.0", "1e3",
		"99999999999999999999", "400-99999999999999999999", strings.Repeat("500,", maxStatusRules+1)} {
		if got, err := parseStatusRanges(in); err == nil {
			t.Errorf("%q accepted as %v", in, got)
		}
	}
	a, b := []statusRange{{500, 504}}, []statusRange{{400, 499}, {503, 503}}
	if r, ok := overlap(a, b); !ok || r != (statusRange{503, 503}) {
		t.Errorf("overlap = %v %v", r, ok)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	limit := 5 * time.Minute
	tests := []struct {
		in    string
		limit time.Duration
		want  time.Duration
	}{
		{"1", limit, time.Second},
		{" 120 ", limit, 2 * time.Minute},
		{"0", limit, 0},
		{"86400", limit, limit},
		{"99999999999999999999", limit, 0}, // not a uint64: unreadable
		{"18446744073709551615", limit, limit},
		{"-5", limit, 0},
		{"1.5", limit, 0},
		{"soon", limit, 0},
		{"", limit, 0},
		{now.Add(30 * time.Second).Format(nethttp.TimeFormat), limit, 30 * time.Second},
		{now.Add(-time.Hour).Format(nethttp.TimeFormat), limit, 0},
		{now.Add(time.Hour).Format(nethttp.TimeFormat), limit, limit},
		{"10", 0, 0}, // retry.after.max.ms=0 ignores the header
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now, tt.limit); got != tt.want {
			t.Errorf("parseRetryAfter(%q, %v) = %v, want %v", tt.in, tt.limit, got, tt.want)
		}
	}
}

// TestLimiter: slots are one interval apart, idle time is not banked,
// and a burst of callers queues behind each other.
func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := newLimiter(10) // 100ms apart
	l.now = func() time.Time { return now }
	for i, want := range []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond} {
		if got := l.reserve(); got != want {
			t.Fatalf("reserve %d = %v, want %v", i, got, want)
		}
	}
	now = now.Add(10 * time.Second) // idle: no burst saved up
	if a, b := l.reserve(), l.reserve(); a != 0 || b != 100*time.Millisecond {
		t.Fatalf("after idle: %v, %v", a, b)
	}
	var none *limiter
	if none.reserve() != 0 || newLimiter(0).reserve() != 0 {
		t.Fatal("an unlimited limiter waits")
	}
	if newLimiter(1e12).interval <= 0 {
		t.Fatal("a huge rate gave no interval")
	}
}

// TestSnippet: secrets are replaced, including one the length bound cuts
// in two, and the text is bounded and quoted.
func TestSnippet(t *testing.T) {
	t.Parallel()
	secret := "s3cr3t-value-0123456789"
	body := "echo: Authorization: Bearer " + secret + " and again " + secret
	got := snippet([]byte(body), secret)
	if strings.Contains(got, secret) || !strings.Contains(got, "[hidden]") {
		t.Fatalf("snippet %s", got)
	}
	// The secret straddles the bound.
	long := strings.Repeat("x", errorBodyBytes-6) + secret + strings.Repeat("y", 3000)
	got = snippet([]byte(long), secret)
	if strings.Contains(got, secret[:6]) || len(got) > errorBodyBytes+32 {
		t.Fatalf("cut secret leaked or snippet unbounded: ...%s (%d bytes)", got[len(got)-40:], len(got))
	}
	got = snippet([]byte("line1\r\nline2\x00\xff"))
	if strings.ContainsAny(got, "\r\n\x00") {
		t.Fatalf("control characters kept: %s", got)
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"http://example.com", "https://example.com:8443/a/b?c=d", "http://[::1]:80/x", "HTTP://EXAMPLE.COM/"} {
		if err := checkURL(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "example.com/x", "ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)",
		"http://", "http:///path", "https://user:pw@example.com/", "http://exa mple.com/", "http://example.com/" + strings.Repeat("a", maxURLBytes),
		"gopher://x", "unix:///var/run/docker.sock", "http://:80/"} {
		if err := checkURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got := safeURL("https://u:p@example.com/a%20b?token=x#frag"); got != "https://example.com/a%20b" {
		t.Errorf("safeURL = %q", got)
	}
}

func TestAppendQuery(t *testing.T) {
	t.Parallel()
	tests := []struct{ u, want string }{
		{"http://h/p", "http://h/p?k=a+b%26c"},
		{"http://h/p?x=1", "http://h/p?x=1&k=a+b%26c"},
		{"http://h/p?", "http://h/p?k=a+b%26c"},
		{"http://h/p#f", "http://h/p?k=a+b%26c#f"},
	}
	for _, tt := range tests {
		if got := appendQuery(tt.u, "k", "a b&c"); got != tt.want {
			t.Errorf("appendQuery(%q) = %q, want %q", tt.u, got, tt.want)
		}
	}
}
