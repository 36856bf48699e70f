package pattern

import (
	"bytes"
	"math"
	"net/netip"
	"strings"
)

// kind is the type of a value found in an event.
type kind uint8

const (
	kString kind = iota + 1
	kNumber
	kBool
	kNull
	kObject // an object, or an empty array in the alibaba dialect: present, but no condition matches
)

// value is one event value under test. s aliases the event's bytes (string
// contents, unescaped; a number or boolean as written) and is only valid
// during the call.
type value struct {
	k kind
	s []byte
	f float64
	b bool
}

type condKind uint8

const (
	cExactString condKind = iota + 1
	cExactNumber
	cExactBool
	cExactNull
	cPrefix
	cSuffix
	cContains
	cEqualsIgnoreCase
	cWildcard
	cAnythingBut // any of sub matching means no match
	cNumeric
	cCIDR
	cExists
	cAll        // every sub must match (several operators in one object)
	cExactText  // alibaba: a string, number or boolean whose text is s
	cPrefixFold // prefix, ignoring case
	cSuffixFold // suffix, ignoring case
)

type numCmp struct {
	op  string
	val float64
}

// cond is one compiled condition.
type cond struct {
	kind   condKind
	s      string
	f      float64
	b      bool
	nums   []numCmp
	prefix netip.Prefix
	sub    []cond
	// tol: numbers within 1e-7 compare equal (alibaba).
	tol bool
}

// match reports whether v satisfies c. exists conditions are decided by the
// caller from presence and are never true here.
func (c *cond) match(v *value) bool {
	switch c.kind {
	case cExactString:
		return v.k == kString && string(v.s) == c.s
	case cExactNumber:
		return v.k == kNumber && v.f == c.f
	case cExactBool:
		return v.k == kBool && v.b == c.b
	case cExactNull:
		return v.k == kNull
	case cExactText:
		return (v.k == kString || v.k == kNumber || v.k == kBool) && string(v.s) == c.s
	case cPrefixFold:
		return v.k == kString && len(v.s) >= len(c.s) && bytes.EqualFold(v.s[:len(c.s)], []byte(c.s))
	case cSuffixFold:
		return v.k == kString && len(v.s) >= len(c.s) && bytes.EqualFold(v.s[len(v.s)-len(c.s):], []byte(c.s))
	case cPrefix:
		return v.k == kString && bytes.HasPrefix(v.s, []byte(c.s))
	case cSuffix:
		return v.k == kString && bytes.HasSuffix(v.s, []byte(c.s))
	case cContains:
		return v.k == kString && bytes.Contains(v.s, []byte(c.s))
	case cEqualsIgnoreCase:
		return v.k == kString && bytes.EqualFold(v.s, []byte(c.s))
	case cWildcard:
		return v.k == kString && wildcardMatch(c.s, v.s)
	case cAnythingBut:
		if v.k != kString && v.k != kNumber && v.k != kBool && v.k != kNull {
			return false
		}
		for i := range c.sub {
			if c.sub[i].match(v) {
				return false
			}
		}
		return true
	case cNumeric:
		if v.k != kNumber {
			return false
		}
		for _, n := range c.nums {
			if !compare(v.f, n.op, n.val, c.tol) {
				return false
			}
		}
		return true
	case cCIDR:
		if v.k != kString {
			return false
		}
		addr, ok := parseAddr(v.s)
		return ok && c.prefix.Contains(addr.Unmap())
	case cExists:
		// exists:true matches any present value but an object: exists
		// tests leaves, as in both references.
		return c.b && v.k != kObject
	case cAll:
		for i := range c.sub {
			if !c.sub[i].match(v) {
				return false
			}
		}
		return true
	}
	return false
}

// parseAddr parses an IP address. Dotted IPv4, the common case, is parsed
// here; anything else goes to netip on a copy, since netip's error quotes
// its input and would otherwise make every value a condition sees escape
// to the heap.
func parseAddr(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	n, part, digits := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || n == 4 {
				return parseAddrSlow(b)
			}
			ip[n] = byte(part)
			n, part, digits = n+1, 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || (digits == 1 && part == 0) {
			return parseAddrSlow(b)
		}
		part = part*10 + int(c-'0')
		digits++
		if part > 255 {
			return parseAddrSlow(b)
		}
	}
	if n != 4 {
		return parseAddrSlow(b)
	}
	return netip.AddrFrom4(ip), true
}

func parseAddrSlow(b []byte) (netip.Addr, bool) {
	addr, err := netip.ParseAddr(string(b))
	return addr, err == nil
}

// tolerance is how close two numbers compare equal in the alibaba dialect.
const tolerance = 1e-7

func compare(a float64, op string, b float64, tol bool) bool {
	if tol && math.Abs(a-b) <= tolerance {
		a = b
	}
	switch op {
	case "=":
		return a == b
	case "!=":
		return a != b
	case ">":
		return a > b
	case ">=":
		return a >= b
	case "<":
		return a < b
	case "<=":
		return a <= b
	}
	return false
}

// wildcardMatch matches s against a pattern where * stands for any run of
// bytes, \* for a literal star and \\ for a backslash (the pattern was
// checked by checkWildcard). Iterative with a single backtracking point, so
// it never allocates.
func wildcardMatch(p string, s []byte) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; {
			case c == '*':
				starP, starS = pi, si
				pi++
				continue
			case c == '\\' && pi+1 < len(p):
				if p[pi+1] == s[si] {
					pi += 2
					si++
					continue
				}
			case c == s[si]:
				pi++
				si++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		pi = starP + 1
		starS++
		si = starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// hasExistsFalse reports whether any of conds is {"exists": false}.
func hasExistsFalse(conds []cond) bool {
	for i := range conds {
		if conds[i].kind == cExists && !conds[i].b {
			return true
		}
	}
	return false
}

func isAttributeName(s string) bool {
	return strings.TrimSpace(s) == s && s != ""
}
