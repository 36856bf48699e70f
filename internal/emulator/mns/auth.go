package mns

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"time"
)

// apiVersion is the only x-mns-version the emulator speaks.
const apiVersion = "2015-06-06"

// maxClockSkew is how far a request's Date may be from the server's clock
// before MNS rejects it with TimeExpired.
const maxClockSkew = 15 * time.Minute

// stringToSign builds MNS's canonical request:
//
//	VERB \n Content-MD5 \n Content-Type \n Date \n
//	x-mns-name:value \n ... (lower-cased names, sorted) \n CanonicalizedResource
//
// where the resource is the request URI exactly as sent (path and query).
func stringToSign(r *http.Request) string {
	var mns []string
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-mns-") && len(values) > 0 {
			mns = append(mns, lower+":"+strings.TrimSpace(values[0]))
		}
	}
	sort.Strings(mns)
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-MD5"))
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-Type"))
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Date"))
	b.WriteByte('\n')
	for _, h := range mns {
		b.WriteString(h)
		b.WriteByte('\n')
	}
	b.WriteString(r.RequestURI)
	return b.String()
}

// sign returns the base64 HMAC-SHA1 of s under secret.
func sign(secret, s string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// authenticate checks the common request headers and the signature, in the
// order MNS reports their absence or invalidity.
func (s *Server) authenticate(r *http.Request, now time.Time) *apiError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return errMissingAuth
	}
	cred, ok := strings.CutPrefix(auth, "MNS ")
	if !ok {
		return errInvalidAuth
	}
	keyID, signature, ok := strings.Cut(strings.TrimSpace(cred), ":")
	if !ok || keyID == "" || signature == "" {
		return errInvalidAuth
	}
	date := r.Header.Get("Date")
	if date == "" {
		return errMissingDate
	}
	at, err := http.ParseTime(date)
	if err != nil {
		return errInvalidDate
	}
	if d := now.Sub(at); d > maxClockSkew || d < -maxClockSkew {
		return errTimeExpired
	}
	switch v := r.Header.Get("x-mns-version"); v {
	case "":
		return errMissingVersion
	case apiVersion:
	default:
		return errInvalidVersion
	}
	if keyID != s.cfg.AccessKeyID {
		return errUnknownKeyID
	}
	want := sign(s.cfg.AccessKeySecret, stringToSign(r))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return errBadSignature
	}
	return nil
}

// checkDigest verifies a Content-MD5 header against the body. The MNS SDKs
// send base64 of the hex digest; RFC 1864's base64 of the raw digest is
// accepted too.
func checkDigest(header string, body []byte) *apiError {
	if header == "" {
		return nil
	}
	sum := md5.Sum(body)
	hexForm := base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(sum[:])))
	rawForm := base64.StdEncoding.EncodeToString(sum[:])
	if header != hexForm && header != rawForm {
		return errInvalidDigest
	}
	return nil
}
