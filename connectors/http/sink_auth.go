package http

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferryhq/ferry/api"
)

// Bounds of what an OAuth2 token endpoint may send.
const (
	maxTokenResponse = 1 << 20
	maxTokenBytes    = 16 << 10
	maxTokenLifetime = 366 * 24 * time.Hour
	// maxRefreshMargin is the most a token is renewed before it expires;
	// a short-lived token is renewed a quarter of its lifetime early.
	maxRefreshMargin = time.Minute
)

// auth adds a request's credentials: a fixed header (basic, api-key) or
// an OAuth2 bearer token from the client credentials grant. It is safe
// for concurrent use.
type auth struct {
	header string // the header the credential goes in
	value  string // basic and api-key: the header's value
	oauth  *tokenSource
	// hidden lists the secret texts besides value that answers may echo
	// (basic's password and encoded credentials).
	hidden []string
}

// apply sets the credential on req and returns the token generation it
// used (0 without OAuth2), which unauthorized takes back.
func (a *auth) apply(ctx context.Context, req *nethttp.Request) (uint64, error) {
	switch {
	case a == nil:
		return 0, nil
	case a.oauth != nil:
		tok, gen, err := a.oauth.get(ctx)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		return gen, nil
	}
	req.Header.Set(a.header, a.value)
	return 0, nil
}

// unauthorized reports whether a 401 answered to a request made with
// token generation gen is worth one more attempt: with OAuth2 the token
// is dropped (once, however many requests got the 401 with it) so the
// next apply fetches a new one.
func (a *auth) unauthorized(gen uint64) bool {
	if a == nil || a.oauth == nil {
		return false
	}
	a.oauth.invalidate(gen)
	return true
}

// secrets returns every credential text that must never appear in an
// error or log line: the configured secrets and the current token.
func (a *auth) secrets() []string {
	if a == nil {
		return nil
	}
	out := slices.Clone(a.hidden)
	if a.value != "" {
		out = append(out, a.value)
	}
	if a.oauth != nil {
		out = append(out, a.oauth.secrets()...)
	}
	return out
}

// tokenSource fetches and caches an OAuth2 access token (RFC 6749
// section 4.4, client credentials).
type tokenSource struct {
	url          string
	clientID     string
	clientSecret string
	basic        bool // client authentication in the Authorization header, else in the form
	form         url.Values
	headers      map[string]string
	client       *nethttp.Client
	timeout      time.Duration
	retryAfter   time.Duration // cap on the endpoint's Retry-After
	now          func() time.Time
	log          *slog.Logger

	mu      sync.Mutex // held while fetching, so concurrent requests fetch once
	token   string
	renewAt time.Time // zero: no expiry given, kept until a 401
	gen     uint64    // counts tokens fetched
	last    string    // the previous token, kept for scrubbing
}

// get returns a valid token and its generation, fetching one when there
// is none or the cached one is about to expire.
func (t *tokenSource) get(ctx context.Context) (string, uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && (t.renewAt.IsZero() || t.now().Before(t.renewAt)) {
		return t.token, t.gen, nil
	}
	if err := t.fetch(ctx); err != nil {
		return "", 0, err
	}
	return t.token, t.gen, nil
}

// invalidate drops the token of generation gen, unless a newer one
// replaced it already.
func (t *tokenSource) invalidate(gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if gen == t.gen && t.token != "" {
		t.last, t.token = t.token, ""
	}
}

func (t *tokenSource) secrets() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []string{t.clientSecret, t.basicCreds()}
	for _, s := range []string{t.token, t.last} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// basicCreds is the client's HTTP Basic credentials (RFC 6749 section
// 2.3.1: each part form-encoded first).
func (t *tokenSource) basicCreds() string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(t.clientID) + ":" + url.QueryEscape(t.clientSecret)))
}

// tokenResponse is the successful answer of RFC 6749 section 5.1.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

// fetch asks the token endpoint for a new token; t.mu is held. Its
// errors name the endpoint without its query and never carry the client
// secret or a token: a refusal (4xx but 408 and 429) is fatal, since the
// credentials or the request are wrong, everything else transient.
func (t *tokenSource) fetch(parent context.Context) error {
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, vs := range t.form {
		form[k] = vs
	}
	if !t.basic {
		form.Set("client_id", t.clientID)
		form.Set("client_secret", t.clientSecret)
	}
	ctx, cancel := context.WithTimeout(parent, t.timeout)
	defer cancel()
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodPost, t.url, strings.NewReader(form.Encode()))
	if err != nil {
		return api.Fatal(fmt.Errorf("%w: %s: %v", errToken, safeURL(t.url), err))
	}
	for k, v := range t.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if t.basic {
		// RFC 6749 section 2.3.1: form-encoded, then HTTP Basic.
		req.Header.Set("Authorization", "Basic "+t.basicCreds())
	}
	resp, err := t.client.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return parent.Err()
		}
		return fmt.Errorf("%w: POST %s: %v", errToken, safeURL(t.url), transportCause(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return fmt.Errorf("%w: POST %s: reading the answer: %v", errToken, safeURL(t.url), err)
	}
	if resp.StatusCode/100 != 2 {
		err := fmt.Errorf("%w: POST %s answered %d: %s", errToken, safeURL(t.url), resp.StatusCode,
			snippet(body, t.clientSecret, t.basicCreds(), t.token, t.last))
		switch {
		case resp.StatusCode == 408 || resp.StatusCode == 429 || resp.StatusCode >= 500:
			if d := parseRetryAfter(resp.Header.Get("Retry-After"), t.now(), t.retryAfter); d > 0 {
				return api.RetryAfter(err, d)
			}
			return err
		}
		return api.Fatal(err)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return fmt.Errorf("%w: POST %s: the answer is not a JSON token response", errToken, safeURL(t.url))
	}
	switch {
	case tr.AccessToken == "":
		return api.Fatal(fmt.Errorf("%w: POST %s: the answer has no access_token", errToken, safeURL(t.url)))
	case len(tr.AccessToken) > maxTokenBytes || !validHeaderValue(tr.AccessToken):
		return api.Fatal(fmt.Errorf("%w: POST %s: the access_token is over %d bytes or not header text", errToken, safeURL(t.url), maxTokenBytes))
	case tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer"):
		return api.Fatal(fmt.Errorf("%w: POST %s: token_type %q, only bearer tokens are supported", errToken, safeURL(t.url), clip(tr.TokenType, 32)))
	}
	now := t.now()
	t.last, t.token, t.renewAt = t.token, tr.AccessToken, time.Time{}
	t.gen++
	if life := expiresIn(tr.ExpiresIn); life > 0 {
		t.renewAt = now.Add(life - min(maxRefreshMargin, life/4))
	}
	t.log.Debug("http sink: fetched an OAuth2 access token", "token_url", safeURL(t.url), "generation", t.gen, "renew_at", t.renewAt)
	return nil
}

// expiresIn reads expires_in, a number of seconds (some servers send a
// string), bounded to a year; 0 when absent or unreadable.
func expiresIn(raw json.RawMessage) time.Duration {
	s := strings.Trim(string(raw), `"`)
	secs, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || secs <= 0 || secs != secs:
		return 0
	case secs >= maxTokenLifetime.Seconds():
		return maxTokenLifetime
	}
	return time.Duration(secs * float64(time.Second))
}

// transportCause is the cause of a client error without the *url.Error
// wrapper, whose text repeats the full URL (and so its query).
func transportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
