package sls

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// authenticate checks a request's signature, v1 or v4 by the form of its
// Authorization header, against the configured key.
//
// Signature v1:
//
//	Authorization: LOG <AccessKeyId>:base64(hmac-sha1(secret, StringToSign))
//	StringToSign = VERB \n Content-MD5 \n Content-Type \n Date \n
//	               CanonicalizedLOGHeaders \n CanonicalizedResource
//
// where the headers are every x-log-* and x-acs-* header, lowercased, sorted,
// "name:value" joined by newlines, and the resource is the escaped path plus,
// if there is a query, "?" and its decoded k=v pairs sorted by key and joined
// by "&". Content-MD5, when sent, must be the upper-case hex MD5 of the body.
//
// Signature v4 (authenticateV4).
func (s *Server) authenticate(r *http.Request, body []byte) *apiError {
	auth := r.Header.Get("Authorization")
	if strings.HasPrefix(auth, v4Algorithm+" ") {
		return s.authenticateV4(r, body, auth)
	}
	id, sig, ok := strings.Cut(strings.TrimPrefix(auth, "LOG "), ":")
	if !strings.HasPrefix(auth, "LOG ") || !ok {
		return errUnauthorized("missing or malformed Authorization header")
	}
	if id != s.cfg.AccessKeyID {
		return errUnauthorized("AccessKeyId not found: %s", id)
	}
	date := r.Header.Get("Date")
	if date == "" {
		return errUnauthorized("missing Date header")
	}
	t, err := http.ParseTime(date)
	if err != nil && s.cfg.MaxClockSkew > 0 {
		return errUnauthorized("malformed Date header %q", date)
	}
	if e := s.checkSkew(t, date); e != nil {
		return e
	}
	contentMD5 := r.Header.Get("Content-MD5")
	if contentMD5 != "" {
		sum := md5.Sum(body)
		if !strings.EqualFold(contentMD5, hex.EncodeToString(sum[:])) {
			return newAPIError(http.StatusBadRequest, "InvalidContentMD5", "Content-MD5 does not match the body")
		}
	} else if len(body) > 0 {
		return newAPIError(http.StatusBadRequest, "InvalidContentMD5", "Content-MD5 is required with a body")
	}

	toSign := r.Method + "\n" + contentMD5 + "\n" + r.Header.Get("Content-Type") + "\n" + date + "\n" +
		canonicalHeaders(r.Header) + "\n" + canonicalResource(r.URL)
	mac := hmac.New(sha1.New, []byte(s.cfg.AccessKeySecret))
	mac.Write([]byte(toSign))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return errSignatureNotMatch("signature %s not match", sig)
	}
	return nil
}

// checkSkew refuses a request time more than MaxClockSkew from Now.
func (s *Server) checkSkew(t time.Time, raw string) *apiError {
	if skew := s.cfg.MaxClockSkew; skew > 0 {
		if d := s.cfg.Now().Sub(t); d > skew || d < -skew {
			return newAPIError(http.StatusBadRequest, "RequestTimeExpired", "request time %s is more than %v from server time", raw, skew)
		}
	}
	return nil
}

func canonicalHeaders(h http.Header) string {
	var keys []string
	vals := make(map[string]string)
	for k, v := range h {
		l := strings.ToLower(k)
		if !strings.HasPrefix(l, "x-log-") && !strings.HasPrefix(l, "x-acs-") {
			continue
		}
		keys = append(keys, l)
		vals[l] = strings.TrimSpace(strings.Join(v, ","))
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + ":" + vals[k]
	}
	return strings.Join(lines, "\n")
}

// canonicalResource mirrors the SDK: a key with several values contributes
// "k=v1k=v2" (no separator between its values).
func canonicalResource(u *url.URL) string {
	res := u.EscapedPath()
	if u.RawQuery == "" {
		return res
	}
	q, _ := url.ParseQuery(u.RawQuery)
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(res)
	b.WriteByte('?')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		for _, v := range q[k] {
			b.WriteString(k + "=" + v)
		}
	}
	return b.String()
}
