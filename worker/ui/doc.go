// Package ui is the worker's web dashboard: static HTML, CSS and JavaScript
// embedded in the binary and served at /ui/ on the REST port by Handler.
//
// The page holds no data. Everything it shows comes from the public REST
// API (docs/rest.md) called from the browser, same-origin, with the
// operator's bearer token when the worker requires one, so it works
// against any worker of a cluster and is bound by the same authentication,
// roles and browser guard as every other client. The assets load nothing
// from elsewhere (no CDN, no fonts): the dashboard works offline.
//
// Handler serves the assets with a strict Content-Security-Policy (scripts
// and styles from the worker only, no inline code, no framing) and
// X-Content-Type-Options: nosniff. docs/dashboard.md describes the pages.
package ui
