package http

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// access is a connector's request policy. The zero value allows every
// client and referer.
type access struct {
	cidrs    []netip.Prefix
	referers []string // lower-case domains
}

// parsePrefix accepts a CIDR or a bare address (one host).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// allowAddr reports whether remote (a net/http RemoteAddr, host:port) is
// in an allowed network.
func (a *access) allowAddr(remote string) error {
	if len(a.cidrs) == 0 {
		return nil
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return fmt.Errorf("client address %q not understood", remote)
	}
	addr := ap.Addr().Unmap()
	for _, p := range a.cidrs {
		if p.Contains(addr) {
			return nil
		}
	}
	return fmt.Errorf("client address %s is not allowed", addr)
}

// allowReferer reports whether the Referer header names an allowed domain
// or a subdomain of one.
func (a *access) allowReferer(referer string) error {
	if len(a.referers) == 0 {
		return nil
	}
	if referer == "" {
		return fmt.Errorf("a Referer header is required")
	}
	u, err := url.Parse(referer)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("referer %q is not a URL", referer)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	for _, d := range a.referers {
		if host == d || strings.HasSuffix(host, "."+d) {
			return nil
		}
	}
	return fmt.Errorf("referer host %q is not allowed", host)
}
