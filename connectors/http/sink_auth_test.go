package http_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
)

const (
	clientID     = "ferry-client"
	clientSecret = "cs-9f8e7d6c5b4a-client-secret"
)

// idp is an OAuth2 token endpoint (client credentials) issuing tokens of
// a fixed lifetime, and the resource server's check of them. A refused
// client gets its own Authorization header and form echoed back, as
// careless servers do, so the tests can see the sink hides them.
type idp struct {
	srv      *httptest.Server
	lifetime time.Duration

	mu      sync.Mutex
	issued  map[string]time.Time // token → expiry
	revoked map[string]bool
	fetches []time.Time
	forms   []string
}

func newIDP(t testing.TB, lifetime time.Duration) *idp {
	p := &idp{lifetime: lifetime, issued: map[string]time.Time{}, revoked: map[string]bool{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.token))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) token(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id != clientID || secret != clientSecret || form.Get("grant_type") != "client_credentials" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"invalid_client","echo":%q,"form":%q}`, r.Header.Get("Authorization"), body)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	tok := "tok-" + strconv.Itoa(len(p.fetches)+1) + "-abcdefgh"
	p.issued[tok] = time.Now().Add(p.lifetime)
	p.fetches = append(p.fetches, time.Now())
	p.forms = append(p.forms, string(body)+" "+r.Header.Get("X-Tenant"))
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":%g}`, tok, p.lifetime.Seconds())
}

// check says whether a request's bearer token is valid: "" if so, else
// why not (unknown, revoked, expired).
func (p *idp) check(r *received) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	defer p.mu.Unlock()
	exp, known := p.issued[tok]
	switch {
	case !ok || !known:
		return "unknown"
	case p.revoked[tok]:
		return "revoked"
	case r.At.After(exp):
		return "expired"
	}
	return ""
}

func (p *idp) revoke(tok string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revoked[tok] = true
}

func (p *idp) fetchCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.fetches)
}

func oauthConfig(p *idp, url string) map[string]string {
	return map[string]string{
		"url": url, "auth": "oauth2", "auth.token.url": p.srv.URL + "/token", "auth.client.id": clientID,
		"auth.client.secret": clientSecret, "auth.scope": "events:write", "auth.token.form.audience": "shop-api",
		"auth.token.headers.X-Tenant": "acme",
	}
}

// TestOAuth2OneRefreshPer401: the resource server revokes the first token
// on first sight and answers 401 to every request carrying it; however
// many requests got that 401 at once, the sink fetches exactly one new
// token, resends each of them once, and every event is delivered once.
func TestOAuth2OneRefreshPer401(t *testing.T) {
	t.Parallel()
	p := newIDP(t, time.Hour)
	ep := newEndpoint(t, nil)
	ep.script = func(r *received, _ int) answer {
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-1-") {
			p.revoke(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		}
		if why := p.check(r); why != "" {
			return answer{status: 401, body: why}
		}
		return answer{status: 200}
	}
	cfg := oauthConfig(p, ep.srv.URL)
	cfg["max.in.flight"] = "4"
	s := openSink(t, cfg, nil)
	recs := apitest.Records("o", 16)
	for i := range recs {
		recs[i].Key = []byte(strconv.Itoa(i))
	}
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if n := p.fetchCount(); n != 2 {
		t.Fatalf("%d token fetches, want 2 (at Open, and one refresh for the 401s)", n)
	}
	ok, unauthorized := map[string]int{}, 0
	for _, r := range ep.requests() {
		if p.check(&r) == "" {
			ok[r.id()]++
			if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-2-") {
				t.Errorf("%s delivered with %q", r.id(), r.Header.Get("Authorization"))
			}
		} else {
			unauthorized++
		}
	}
	for _, r := range recs {
		if ok[r.Event.ID] != 1 {
			t.Errorf("%s delivered %d times", r.Event.ID, ok[r.Event.ID])
		}
	}
	if unauthorized < 1 || unauthorized > 4 {
		t.Errorf("%d requests got 401; between 1 and max.in.flight expected", unauthorized)
	}
	p.mu.Lock()
	form := p.forms[0]
	p.mu.Unlock()
	for _, want := range []string{"grant_type=client_credentials", "scope=events%3Awrite", "audience=shop-api", " acme"} {
		if !strings.Contains(form, want) {
			t.Errorf("token request %q lacks %q", form, want)
		}
	}
	if strings.Contains(form, clientSecret) {
		t.Errorf("with auth.client.auth=basic the secret went in the form: %q", form)
	}
}

// TestOAuth2SecondUnauthorizedRejects: a 401 to the refreshed token is an
// answer like any other 4xx: the record is rejected, no loop.
func TestOAuth2SecondUnauthorizedRejects(t *testing.T) {
	t.Parallel()
	p := newIDP(t, time.Hour)
	ep := newEndpoint(t, func(*received, int) answer { return answer{status: 401, body: "no"} })
	s := openSink(t, oauthConfig(p, ep.srv.URL), nil)
	err := s.Write(context.Background(), apitest.Records("u", 1))
	var re *api.RecordErrors
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "answered 401") {
		t.Fatalf("Write = %v, want the record rejected with 401", err)
	}
	if n, f := len(ep.requests()), p.fetchCount(); n != 2 || f != 2 {
		t.Fatalf("%d requests and %d token fetches, want 2 and 2", n, f)
	}
}

// TestOAuth2ShortLivedTokens: tokens living one second are renewed before
// they expire, so the resource server never sees an expired one, and the
// form client authentication works.
func TestOAuth2ShortLivedTokens(t *testing.T) {
	t.Parallel()
	p := newIDP(t, time.Second)
	var mu sync.Mutex
	bad := map[string]int{}
	ep := newEndpoint(t, func(r *received, _ int) answer {
		if why := p.check(r); why != "" {
			mu.Lock()
			bad[why]++
			mu.Unlock()
			return answer{status: 401}
		}
		return answer{status: 200}
	})
	cfg := oauthConfig(p, ep.srv.URL)
	cfg["auth.client.auth"] = "form"
	s := openSink(t, cfg, nil)
	deadline := time.Now().Add(2600 * time.Millisecond)
	n := 0
	for time.Now().Before(deadline) {
		if err := s.Write(context.Background(), apitest.Records("s"+strconv.Itoa(n), 1)); err != nil {
			t.Fatal(err)
		}
		n++
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) != 0 {
		t.Fatalf("the server refused tokens: %v", bad)
	}
	if f := p.fetchCount(); f < 3 || f > 5 {
		t.Fatalf("%d token fetches over 2.6 s of 1 s tokens, want 3 to 5", f)
	}
	t.Logf("%d writes, %d token fetches", n, p.fetchCount())
}

// TestSecretsNeverInErrorsOrLogs: servers that echo the request's
// credentials back in their error bodies (the resource server, the token
// endpoint) never get them into an error the sink returns or a line it
// logs, for every auth kind.
func TestSecretsNeverInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	const password, apiKey = "pw-Zx81-very-secret", "key-7777-abcdef-secret"
	basicCreds := base64.StdEncoding.EncodeToString([]byte("alice:" + password))
	p := newIDP(t, time.Hour)
	echo := func(status int) func(*received, int) answer {
		return func(r *received, _ int) answer {
			var b strings.Builder
			keys := make([]string, 0, len(r.Header))
			for k := range r.Header {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, "%s: %s\n", k, r.Header.Get(k))
			}
			b.Write(r.Body)
			return answer{status: status, body: b.String()}
		}
	}
	cases := map[string]map[string]string{
		"basic":   {"auth": "basic", "auth.username": "alice", "auth.password": password},
		"api-key": {"auth": "api-key", "auth.header": "X-Api-Key", "auth.value": apiKey},
		"oauth2":  oauthConfig(p, ""),
	}
	clientCreds := func(secret string) string {
		return base64.StdEncoding.EncodeToString([]byte(clientID + ":" + secret))
	}
	secrets := []string{password, basicCreds, apiKey, clientSecret, clientCreds(clientSecret), clientCreds(clientSecret + "-wrong"), "tok-", "abcdefgh"}
	var all strings.Builder
	for name, auth := range cases {
		for _, status := range []int{400, 503} {
			ep := newEndpoint(t, echo(status))
			cfg := map[string]string{"url": ep.srv.URL + "/in?sig=" + apiKey}
			for k, v := range auth {
				if k != "url" {
					cfg[k] = v
				}
			}
			var logs capture
			s := openSink(t, cfg, logs.logger())
			err := s.Write(context.Background(), apitest.Records("x", 2))
			if err == nil {
				t.Fatalf("%s %d: no error", name, status)
			}
			if len(ep.requests()) == 0 || !strings.Contains(string(ep.requests()[0].Body), "ferry.apitest.v1") {
				t.Fatalf("%s: the echo server got nothing", name)
			}
			fmt.Fprintf(&all, "%s %d: %v\n%s", name, status, err, logs.String())
		}
	}
	// The token endpoint refuses a wrong secret and echoes it.
	cfg := oauthConfig(p, "http://127.0.0.1:1/")
	cfg["auth.client.secret"] = clientSecret + "-wrong"
	var logs capture
	s, err := buildSink(cfg, logs.logger(), 1)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Open(context.Background())
	if err == nil || !api.IsFatal(err) || !strings.Contains(err.Error(), "answered 401") {
		t.Fatalf("Open with a wrong client secret: %v, want a fatal 401", err)
	}
	fmt.Fprintf(&all, "token: %v\n%s", err, logs.String())
	out := all.String()
	for _, sec := range secrets {
		if strings.Contains(out, sec) {
			t.Errorf("%q appears in an error or log line:\n%s", sec, out)
		}
	}
	if !strings.Contains(out, "[hidden]") || !strings.Contains(out, "answered 400") {
		t.Errorf("the echoes were not reported (hidden) at all:\n%s", out)
	}
	t.Logf("what the sink reported:\n%s", out)
}
