package ui_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/worker/ui"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestHandlerServesAssets: the page and its files come with their content
// types and the security headers; a known ETag answers 304 and HEAD has
// no body.
func TestHandlerServesAssets(t *testing.T) {
	t.Parallel()
	h := ui.Handler()
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/ui", "text/html; charset=utf-8", `<script src="/ui/app.js" defer></script>`},
		{"/ui/", "text/html; charset=utf-8", `<main id="main">`},
		{"/ui/index.html", "text/html; charset=utf-8", `<title>Ferry</title>`},
		{"/ui/app.js", "text/javascript; charset=utf-8", `'use strict';`},
		{"/ui/app.css", "text/css; charset=utf-8", `.badge`},
		{"/ui/favicon.svg", "image/svg+xml", `<svg`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			rec := get(t, h, http.MethodGet, tc.path, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			hd := rec.Header()
			if got := hd.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if got := hd.Get("Content-Security-Policy"); got != ui.ContentSecurityPolicy {
				t.Errorf("Content-Security-Policy %q", got)
			}
			for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
				"Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"} {
				if got := hd.Get(k); got != want {
					t.Errorf("%s %q, want %q", k, got, want)
				}
			}
			if !strings.Contains(rec.Body.String(), tc.contains) {
				t.Errorf("body lacks %q", tc.contains)
			}
			etag := hd.Get("ETag")
			if !regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(etag) {
				t.Fatalf("ETag %q", etag)
			}
			if rec := get(t, h, http.MethodGet, tc.path, map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
				t.Errorf("If-None-Match: status %d, %d bytes", rec.Code, rec.Body.Len())
			}
			if rec := get(t, h, http.MethodGet, tc.path, map[string]string{"If-None-Match": `"0000000000000000"`}); rec.Code != http.StatusOK {
				t.Errorf("stale If-None-Match: status %d", rec.Code)
			}
			if rec := get(t, h, http.MethodHead, tc.path, nil); rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
				t.Errorf("HEAD: status %d, %d bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
			}
		})
	}
}

// TestHandlerRefusesOthers: paths that are not an asset answer 404 and
// other methods 405, each as the REST API's error object; nothing outside
// the embedded assets is reachable.
func TestHandlerRefusesOthers(t *testing.T) {
	t.Parallel()
	h := ui.Handler()
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{http.MethodGet, "/ui/nope.js", http.StatusNotFound},
		{http.MethodGet, "/ui/assets/app.js", http.StatusNotFound},
		{http.MethodGet, "/ui/../ui.go", http.StatusNotFound},
		{http.MethodGet, "/ui/%2e%2e/ui.go", http.StatusNotFound},
		{http.MethodGet, "/ui//app.js", http.StatusNotFound},
		{http.MethodGet, "/uiapp.js", http.StatusNotFound},
		{http.MethodGet, "/app.js", http.StatusNotFound},
		{http.MethodGet, "/ui/app.js/", http.StatusNotFound},
		{http.MethodPost, "/ui/", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/ui/app.js", http.StatusMethodNotAllowed},
	} {
		rec := get(t, h, tc.method, tc.path, nil)
		if rec.Code != tc.code {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.code)
			continue
		}
		var e struct {
			Code    int    `json:"error_code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code != tc.code || e.Message == "" {
			t.Errorf("%s %s: body %q is not the error object (%v)", tc.method, tc.path, rec.Body, err)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.path, ct)
		}
	}
}

// TestAssetsAreSelfContained holds the assets to what the policy and
// "works offline" promise: no inline script or style for the CSP to
// block, no event-handler attributes, nothing loaded from another host,
// and no markup built from strings in the script (names, configs and
// traces are rendered as text).
func TestAssetsAreSelfContained(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	err := filepath.WalkDir("assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(p)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d assets", len(files))
	}
	html := files["assets/index.html"]
	for _, m := range regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(html, -1) {
		if !strings.Contains(m[1], `src="/ui/`) || strings.TrimSpace(m[2]) != "" {
			t.Errorf("inline or foreign script: %s", m[0])
		}
	}
	checks := []struct {
		re   *regexp.Regexp
		what string
		in   string // file suffix it applies to
	}{
		{regexp.MustCompile(`(?i)<style`), "a <style> element", ".html"},
		{regexp.MustCompile(`(?i)\sstyle=`), "a style attribute", ".html"},
		{regexp.MustCompile(`(?i)\son[a-z]+=`), "an event-handler attribute", ".html"},
		{regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`), "a URL of another host", ""},
		{regexp.MustCompile(`@import|url\(`), "a style sheet import or url()", ".css"},
		{regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function`), "markup or code built from strings", ".js"},
	}
	for name, body := range files {
		// The SVG namespace is a name, not something fetched.
		body = strings.ReplaceAll(body, "http://www.w3.org/2000/svg", "")
		for _, c := range checks {
			if strings.HasSuffix(name, c.in) {
				if m := c.re.FindString(body); m != "" {
					t.Errorf("%s has %s: %q", name, c.what, m)
				}
			}
		}
	}
}
