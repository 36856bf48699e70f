package pattern

import (
	"bytes"
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
	kObject // objects and non-empty arrays: present, but only "exists" matches
)

// value is one event value under test. s aliases the event's bytes (string
// contents, unescaped) and is only valid during the call.
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
	cAll // every sub must match (several operators in one object)
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
			if !compare(v.f, n.op, n.val) {
				return false
			}
		}
		return true
	case cCIDR:
		if v.k != kString {
			return false
		}
		addr, err := netip.ParseAddr(unsafeString(v.s))
		return err == nil && c.prefix.Contains(addr.Unmap())
	case cExists:
		return c.b // exists:true matches any present value
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

func compare(a float64, op string, b float64) bool {
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
// bytes and \* for a literal star. Iterative with single backtracking point,
// so it is linear-ish and never allocates.
func wildcardMatch(p string, s []byte) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch {
			case p[pi] == '*':
				starP, starS = pi, si
				pi++
				continue
			case p[pi] == '\\' && pi+1 < len(p) && p[pi+1] == '*':
				if s[si] == '*' {
					pi += 2
					si++
					continue
				}
			case p[pi] == s[si]:
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
