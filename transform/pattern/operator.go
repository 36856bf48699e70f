package pattern

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// alibabaNumericLimit bounds the numbers of a numeric condition in the
// Alibaba dialect, as its engine does.
const alibabaNumericLimit = 1e9

// condition compiles one element of a leaf's condition array.
func (c *compiler) condition(a any, jpath string) (cond, error) {
	switch t := a.(type) {
	case string, json.Number, bool:
		return c.exact(t, jpath)
	case nil:
		return cond{kind: cExactNull}, nil
	case map[string]any:
		if len(t) == 0 {
			return cond{}, &SyntaxError{Path: jpath, Msg: "empty condition object"}
		}
		ops := make([]string, 0, len(t))
		for op := range t {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		if len(ops) > 1 && c.d == AWS {
			return cond{}, &SyntaxError{Path: jpath + "." + ops[1], Msg: "only one operator per condition object in the aws dialect"}
		}
		var all []cond
		for _, op := range ops {
			cd, err := c.operator(op, t[op], jpath+"."+op)
			if err != nil {
				return cond{}, err
			}
			all = append(all, cd)
		}
		if len(all) == 1 {
			return all[0], nil
		}
		for _, cd := range all {
			if cd.kind == cExists {
				return cond{}, &SyntaxError{Path: jpath + ".exists", Msg: "exists cannot be combined with other operators in one object"}
			}
		}
		return cond{kind: cAll, sub: all}, nil
	default:
		return cond{}, &SyntaxError{Path: jpath, Msg: "arrays cannot nest in a condition list"}
	}
}

// exact compiles an exact value. Alibaba compares the value's text (a
// number as written, true as "true"), so 300 matches "300" and not 300.0;
// AWS compares numbers numerically and never matches a string to a number.
func (c *compiler) exact(a any, jpath string) (cond, error) {
	switch t := a.(type) {
	case string:
		if c.d == Alibaba {
			return cond{kind: cExactText, s: t}, nil
		}
		return cond{kind: cExactString, s: t}, nil
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return cond{}, &SyntaxError{Path: jpath, Msg: "number out of range"}
		}
		if c.d == Alibaba {
			return cond{kind: cExactText, s: t.String()}, nil
		}
		return cond{kind: cExactNumber, f: f}, nil
	case bool:
		if c.d == Alibaba {
			return cond{kind: cExactText, s: strconv.FormatBool(t)}, nil
		}
		return cond{kind: cExactBool, b: t}, nil
	}
	return cond{kind: cExactNull}, nil
}

func nonEmptyString(v any, jpath, op string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", &SyntaxError{Path: jpath, Msg: op + " takes a string"}
	}
	if s == "" {
		return "", &SyntaxError{Path: jpath, Msg: op + " must not be empty"}
	}
	return s, nil
}

func (c *compiler) operator(op string, v any, jpath string) (cond, error) {
	switch op {
	case "prefix", "suffix":
		if o, ok := v.(map[string]any); ok {
			// {"prefix": {"equals-ignore-case": "EC2"}}
			x, ok := o["equals-ignore-case"]
			if len(o) != 1 || !ok {
				return cond{}, &SyntaxError{Path: jpath, Msg: op + ` takes a string or {"equals-ignore-case": string}`}
			}
			s, err := nonEmptyString(x, jpath+".equals-ignore-case", op)
			if err != nil {
				return cond{}, err
			}
			if op == "prefix" {
				return cond{kind: cPrefixFold, s: s}, nil
			}
			return cond{kind: cSuffixFold, s: s}, nil
		}
		s, err := nonEmptyString(v, jpath, op)
		if err != nil {
			return cond{}, err
		}
		if op == "prefix" {
			return cond{kind: cPrefix, s: s}, nil
		}
		return cond{kind: cSuffix, s: s}, nil
	case "contains":
		s, err := nonEmptyString(v, jpath, op)
		if err != nil {
			return cond{}, err
		}
		return cond{kind: cContains, s: s}, nil
	case "equals-ignore-case":
		s, ok := v.(string)
		if !ok {
			return cond{}, &SyntaxError{Path: jpath, Msg: "equals-ignore-case takes a string"}
		}
		return cond{kind: cEqualsIgnoreCase, s: s}, nil
	case "wildcard":
		s, ok := v.(string)
		if !ok {
			return cond{}, &SyntaxError{Path: jpath, Msg: "wildcard takes a string"}
		}
		if err := checkWildcard(s); err != nil {
			return cond{}, &SyntaxError{Path: jpath, Msg: err.Error()}
		}
		return cond{kind: cWildcard, s: s}, nil
	case "exists":
		b, ok := v.(bool)
		if !ok {
			return cond{}, &SyntaxError{Path: jpath, Msg: "exists takes true or false"}
		}
		return cond{kind: cExists, b: b}, nil
	case "cidr":
		return c.cidr(v, jpath)
	case "numeric":
		return c.numeric(v, jpath)
	case "anything-but":
		return c.anythingBut(v, jpath)
	default:
		return cond{}, &SyntaxError{Path: jpath, Msg: "unknown operator " + strconv.Quote(op)}
	}
}

// checkWildcard accepts what event-ruler accepts: * for any run, \* for a
// star and \\ for a backslash; no other escape, no trailing backslash and
// no two unescaped stars in a row.
func checkWildcard(s string) error {
	star := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*':
			if star {
				return errors.New("consecutive * are not allowed in a wildcard")
			}
			star = true
			continue
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				return errors.New(`a backslash in a wildcard escapes only * or \ (write \* or \\)`)
			}
			i++
		}
		star = false
	}
	return nil
}

// cidr compiles a block; the Alibaba dialect also takes a single address
// (10.0.0.1 is 10.0.0.1/32, an IPv6 address /128), which event-ruler
// rejects.
func (c *compiler) cidr(v any, jpath string) (cond, error) {
	s, ok := v.(string)
	if !ok {
		return cond{}, &SyntaxError{Path: jpath, Msg: "cidr takes a string such as 10.0.0.0/24"}
	}
	if !strings.Contains(s, "/") {
		if c.d == AWS {
			return cond{}, &SyntaxError{Path: jpath, Msg: "cidr needs a prefix length in the aws dialect, such as " + strconv.Quote(s+"/32")}
		}
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Zone() != "" {
			return cond{}, &SyntaxError{Path: jpath, Msg: "invalid IP address " + strconv.Quote(s)}
		}
		addr = addr.Unmap()
		return cond{kind: cCIDR, prefix: netip.PrefixFrom(addr, addr.BitLen())}, nil
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return cond{}, &SyntaxError{Path: jpath, Msg: "invalid CIDR " + strconv.Quote(s)}
	}
	return cond{kind: cCIDR, prefix: pfx.Masked()}, nil
}

// numeric compiles one comparison (["=", 5], [">", 0]) or one range, lower
// bound first ([">", 0, "<=", 5]). A range upper bound first or empty is
// rejected in both dialects; Alibaba keeps bounds within ±1e9 and has !=,
// AWS takes any finite double.
func (c *compiler) numeric(v any, jpath string) (cond, error) {
	arr, ok := v.([]any)
	if !ok || (len(arr) != 2 && len(arr) != 4) {
		return cond{}, &SyntaxError{Path: jpath, Msg: `numeric takes an operator and a number, or a range such as [">", 0, "<=", 5]`}
	}
	cd := cond{kind: cNumeric, tol: c.d == Alibaba}
	for i := 0; i < len(arr); i += 2 {
		op, ok := arr[i].(string)
		switch op {
		case "=", ">", ">=", "<", "<=":
		case "!=":
			ok = ok && c.d == Alibaba
		default:
			ok = false
		}
		if !ok {
			msg := "numeric operator must be one of = != > >= < <="
			if c.d == AWS {
				msg = "numeric operator must be one of = > >= < <= in the aws dialect"
			}
			return cond{}, &SyntaxError{Path: fmt.Sprintf("%s[%d]", jpath, i), Msg: msg}
		}
		npath := fmt.Sprintf("%s[%d]", jpath, i+1)
		n, ok := arr[i+1].(json.Number)
		if !ok {
			return cond{}, &SyntaxError{Path: npath, Msg: "numeric comparison needs a number"}
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) {
			return cond{}, &SyntaxError{Path: npath, Msg: "number out of range"}
		}
		if c.d == Alibaba && math.Abs(f) > alibabaNumericLimit {
			return cond{}, &SyntaxError{Path: npath, Msg: "numeric bounds must lie between -1e9 and 1e9 in the alibaba dialect"}
		}
		cd.nums = append(cd.nums, numCmp{op: op, val: f})
	}
	if len(cd.nums) == 2 {
		lo, hi := cd.nums[0], cd.nums[1]
		if (lo.op != ">" && lo.op != ">=") || (hi.op != "<" && hi.op != "<=") {
			return cond{}, &SyntaxError{Path: jpath, Msg: `a numeric range gives its lower bound (> or >=) first, then its upper bound (< or <=)`}
		}
		if lo.val >= hi.val {
			return cond{}, &SyntaxError{Path: jpath, Msg: "an empty numeric range: the lower bound must be below the upper bound"}
		}
	}
	return cd, nil
}

func (c *compiler) anythingBut(v any, jpath string) (cond, error) {
	cd := cond{kind: cAnythingBut}
	switch t := v.(type) {
	case string, json.Number, bool, nil:
		sub, err := c.condition(t, jpath)
		if err != nil {
			return cond{}, err
		}
		cd.sub = []cond{sub}
	case []any:
		if len(t) == 0 {
			return cond{}, &SyntaxError{Path: jpath, Msg: "anything-but takes a non-empty list"}
		}
		var strs, nums bool
		for i, x := range t {
			ip := fmt.Sprintf("%s[%d]", jpath, i)
			switch x.(type) {
			case string:
				strs = true
			case json.Number:
				nums = true
			case bool, nil:
				if c.d == AWS {
					return cond{}, &SyntaxError{Path: ip, Msg: "anything-but lists hold strings or numbers in the aws dialect"}
				}
			default:
				return cond{}, &SyntaxError{Path: ip, Msg: "anything-but lists hold strings, numbers, booleans or null"}
			}
			if strs && nums {
				return cond{}, &SyntaxError{Path: ip, Msg: "an anything-but list holds only strings or only numbers"}
			}
			sub, err := c.condition(x, ip)
			if err != nil {
				return cond{}, err
			}
			cd.sub = append(cd.sub, sub)
		}
	case map[string]any:
		if len(t) != 1 {
			return cond{}, &SyntaxError{Path: jpath, Msg: "anything-but takes one operator object"}
		}
		for op, x := range t {
			switch op {
			case "prefix", "suffix", "equals-ignore-case", "wildcard":
			default:
				return cond{}, &SyntaxError{Path: jpath + "." + op, Msg: "anything-but supports prefix, suffix, equals-ignore-case and wildcard, not " + strconv.Quote(op)}
			}
			list := []any{x}
			if l, ok := x.([]any); ok {
				list = l
			}
			if len(list) == 0 {
				return cond{}, &SyntaxError{Path: jpath + "." + op, Msg: "must not be empty"}
			}
			for i, y := range list {
				ip := jpath + "." + op
				if _, ok := x.([]any); ok {
					ip = fmt.Sprintf("%s[%d]", ip, i)
				}
				if _, ok := y.(string); !ok {
					return cond{}, &SyntaxError{Path: ip, Msg: op + " takes a string or a list of strings inside anything-but"}
				}
				sub, err := c.operator(op, y, ip)
				if err != nil {
					return cond{}, err
				}
				cd.sub = append(cd.sub, sub)
			}
		}
	default:
		return cond{}, &SyntaxError{Path: jpath, Msg: "invalid anything-but value"}
	}
	return cd, nil
}

// errDecided stops a scan early; it never leaves the package.
var errDecided = errors.New("decided")

// errBadJSON is returned by Match when data is not valid JSON.
var errBadJSON = errors.New("event data is not valid JSON")
