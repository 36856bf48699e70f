package pattern

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// MaxLeaves bounds the number of field paths one pattern may test.
const MaxLeaves = 64

// Pattern is a compiled event pattern. It is immutable and safe for
// concurrent use.
type Pattern struct {
	src    string
	expr   expr
	leaves []leaf
	// data is the trie of leaves under "data"; nil when none.
	data *node
	// attrs lists the leaves on attributes and extensions.
	attrs []int
	// dataAll has a bit per data leaf when none of them tests for absence
	// (exists:false), so the scan may stop once all have matched; else 0.
	dataAll uint64
}

// expr is a conjunction: every leaf must match and every group of ors must
// have one alternative that matches.
type expr struct {
	leaves []int
	ors    [][]expr
}

// leaf is one field path and its ORed conditions.
type leaf struct {
	path        string // "data.a.b" or "source", for messages
	attr        string // attribute or extension name; "" for data leaves
	conds       []cond
	existsFalse bool
}

// node is a trie node over data's object keys.
type node struct {
	key      string
	children []*node
	leaves   []int
}

func (n *node) child(key string) *node {
	for _, c := range n.children {
		if c.key == key {
			return c
		}
	}
	c := &node{key: key}
	n.children = append(n.children, c)
	return c
}

// SyntaxError is a malformed pattern; Path is the JSON path of the
// offending element, such as $.data.size[0].numeric.
type SyntaxError struct {
	Path string
	Msg  string
}

func (e *SyntaxError) Error() string { return "pattern " + e.Path + ": " + e.Msg }

// Compile parses and validates an event pattern.
func Compile(src string) (*Pattern, error) {
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, &SyntaxError{Path: "$", Msg: "not valid JSON: " + err.Error()}
	}
	if dec.More() {
		return nil, &SyntaxError{Path: "$", Msg: "unexpected data after the pattern object"}
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, &SyntaxError{Path: "$", Msg: "a pattern must be a JSON object"}
	}
	p := &Pattern{src: src}
	c := compiler{p: p}
	e, err := c.level(obj, nil, "$")
	if err != nil {
		return nil, err
	}
	p.expr = e
	for id, l := range p.leaves {
		if l.attr == "" {
			if l.existsFalse {
				p.dataAll = 0
				break
			}
			p.dataAll |= 1 << id
		}
	}
	return p, nil
}

// Check validates a pattern for config validation: nil, or an error whose
// message names the JSON path of the offending element.
func Check(src string) error {
	_, err := Compile(src)
	var se *SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid event pattern at %s: %s", se.Path, se.Msg)
	}
	return err
}

// MustCompile is Compile for patterns known to be valid; it panics otherwise.
func MustCompile(src string) *Pattern {
	p, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the pattern's source.
func (p *Pattern) String() string { return p.src }

type compiler struct{ p *Pattern }

// level compiles one object of the pattern; path is the event path to it
// (nil at the top, ["data", …] below data).
func (c *compiler) level(obj map[string]any, path []string, jpath string) (expr, error) {
	var e expr
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := obj[k]
		kp := jpath + "." + k
		if k == "$or" {
			alts, ok := v.([]any)
			if !ok || len(alts) < 2 {
				return e, &SyntaxError{Path: kp, Msg: "$or takes an array of at least two patterns"}
			}
			var group []expr
			for i, a := range alts {
				ao, ok := a.(map[string]any)
				if !ok {
					return e, &SyntaxError{Path: fmt.Sprintf("%s[%d]", kp, i), Msg: "each $or alternative must be an object"}
				}
				sub, err := c.level(ao, path, fmt.Sprintf("%s[%d]", kp, i))
				if err != nil {
					return e, err
				}
				group = append(group, sub)
			}
			e.ors = append(e.ors, group)
			continue
		}
		if k == "" {
			return e, &SyntaxError{Path: kp, Msg: "empty key"}
		}
		sub := append(append([]string(nil), path...), k)
		switch t := v.(type) {
		case map[string]any:
			if path == nil && k != "data" {
				return e, &SyntaxError{Path: kp, Msg: "only data nests; attribute " + strconv.Quote(k) + " takes an array of conditions"}
			}
			se, err := c.level(t, sub, kp)
			if err != nil {
				return e, err
			}
			e.leaves = append(e.leaves, se.leaves...)
			e.ors = append(e.ors, se.ors...)
		case []any:
			id, err := c.leaf(t, sub, kp)
			if err != nil {
				return e, err
			}
			e.leaves = append(e.leaves, id)
		default:
			return e, &SyntaxError{Path: kp, Msg: "must be an array of conditions or a nested object"}
		}
	}
	return e, nil
}

func (c *compiler) leaf(arr []any, path []string, jpath string) (int, error) {
	if len(arr) == 0 {
		return 0, &SyntaxError{Path: jpath, Msg: "an empty array of conditions matches nothing"}
	}
	if len(c.p.leaves) >= MaxLeaves {
		return 0, &SyntaxError{Path: jpath, Msg: fmt.Sprintf("a pattern may test at most %d fields", MaxLeaves)}
	}
	l := leaf{path: strings.Join(path, ".")}
	for i, a := range arr {
		cd, err := condition(a, fmt.Sprintf("%s[%d]", jpath, i))
		if err != nil {
			return 0, err
		}
		l.conds = append(l.conds, cd)
	}
	l.existsFalse = hasExistsFalse(l.conds)
	id := len(c.p.leaves)
	if path[0] == "data" {
		if c.p.data == nil {
			c.p.data = &node{key: "data"}
		}
		n := c.p.data
		for _, k := range path[1:] {
			n = n.child(k)
		}
		n.leaves = append(n.leaves, id)
	} else {
		if len(path) != 1 || !isAttributeName(path[0]) {
			return 0, &SyntaxError{Path: jpath, Msg: "invalid attribute name"}
		}
		l.attr = path[0]
		c.p.attrs = append(c.p.attrs, id)
	}
	c.p.leaves = append(c.p.leaves, l)
	return id, nil
}

// condition compiles one element of a leaf's condition array.
func condition(a any, jpath string) (cond, error) {
	switch t := a.(type) {
	case string:
		return cond{kind: cExactString, s: t}, nil
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return cond{}, &SyntaxError{Path: jpath, Msg: "number out of range"}
		}
		return cond{kind: cExactNumber, f: f}, nil
	case bool:
		return cond{kind: cExactBool, b: t}, nil
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
		var all []cond
		for _, op := range ops {
			cd, err := operator(op, t[op], jpath+"."+op)
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

func operator(op string, v any, jpath string) (cond, error) {
	switch op {
	case "prefix", "suffix", "contains":
		s, err := nonEmptyString(v, jpath, op)
		if err != nil {
			return cond{}, err
		}
		k := map[string]condKind{"prefix": cPrefix, "suffix": cSuffix, "contains": cContains}[op]
		return cond{kind: k, s: s}, nil
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
		if strings.Contains(s, "**") {
			return cond{}, &SyntaxError{Path: jpath, Msg: "consecutive * are not allowed in a wildcard"}
		}
		return cond{kind: cWildcard, s: s}, nil
	case "exists":
		b, ok := v.(bool)
		if !ok {
			return cond{}, &SyntaxError{Path: jpath, Msg: "exists takes true or false"}
		}
		return cond{kind: cExists, b: b}, nil
	case "cidr":
		s, ok := v.(string)
		if !ok {
			return cond{}, &SyntaxError{Path: jpath, Msg: "cidr takes a string such as 10.0.0.0/24"}
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return cond{}, &SyntaxError{Path: jpath, Msg: "invalid CIDR " + strconv.Quote(s)}
		}
		return cond{kind: cCIDR, prefix: pfx.Masked()}, nil
	case "numeric":
		return numeric(v, jpath)
	case "anything-but":
		return anythingBut(v, jpath)
	default:
		return cond{}, &SyntaxError{Path: jpath, Msg: "unknown operator " + strconv.Quote(op)}
	}
}

func numeric(v any, jpath string) (cond, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 || len(arr)%2 != 0 {
		return cond{}, &SyntaxError{Path: jpath, Msg: `numeric takes pairs of operator and number, such as [">", 0, "<=", 5]`}
	}
	c := cond{kind: cNumeric}
	for i := 0; i < len(arr); i += 2 {
		op, ok := arr[i].(string)
		switch op {
		case "=", "!=", ">", ">=", "<", "<=":
		default:
			ok = false
		}
		if !ok {
			return cond{}, &SyntaxError{Path: fmt.Sprintf("%s[%d]", jpath, i), Msg: "numeric operator must be one of = != > >= < <="}
		}
		n, ok := arr[i+1].(json.Number)
		if !ok {
			return cond{}, &SyntaxError{Path: fmt.Sprintf("%s[%d]", jpath, i+1), Msg: "numeric comparison needs a number"}
		}
		f, err := n.Float64()
		if err != nil {
			return cond{}, &SyntaxError{Path: fmt.Sprintf("%s[%d]", jpath, i+1), Msg: "number out of range"}
		}
		c.nums = append(c.nums, numCmp{op: op, val: f})
	}
	return c, nil
}

func anythingBut(v any, jpath string) (cond, error) {
	c := cond{kind: cAnythingBut}
	switch t := v.(type) {
	case string, json.Number, bool, nil:
		sub, err := condition(t, jpath)
		if err != nil {
			return cond{}, err
		}
		c.sub = []cond{sub}
	case []any:
		if len(t) == 0 {
			return cond{}, &SyntaxError{Path: jpath, Msg: "anything-but takes a non-empty list"}
		}
		for i, x := range t {
			switch x.(type) {
			case string, json.Number, bool, nil:
			default:
				return cond{}, &SyntaxError{Path: fmt.Sprintf("%s[%d]", jpath, i), Msg: "anything-but lists hold strings, numbers, booleans or null"}
			}
			sub, _ := condition(x, fmt.Sprintf("%s[%d]", jpath, i))
			c.sub = append(c.sub, sub)
		}
	case map[string]any:
		if len(t) != 1 {
			return cond{}, &SyntaxError{Path: jpath, Msg: "anything-but takes one operator object"}
		}
		for op, x := range t {
			switch op {
			case "prefix", "suffix":
				sub, err := operator(op, x, jpath+"."+op)
				if err != nil {
					return cond{}, err
				}
				c.sub = []cond{sub}
			case "equals-ignore-case", "wildcard":
				list := []any{x}
				if l, ok := x.([]any); ok {
					list = l
				}
				if len(list) == 0 {
					return cond{}, &SyntaxError{Path: jpath + "." + op, Msg: "must not be empty"}
				}
				for i, y := range list {
					sub, err := operator(op, y, fmt.Sprintf("%s.%s[%d]", jpath, op, i))
					if err != nil {
						return cond{}, err
					}
					c.sub = append(c.sub, sub)
				}
			default:
				return cond{}, &SyntaxError{Path: jpath + "." + op, Msg: "anything-but supports prefix, suffix, equals-ignore-case and wildcard, not " + strconv.Quote(op)}
			}
		}
	default:
		return cond{}, &SyntaxError{Path: jpath, Msg: "invalid anything-but value"}
	}
	return c, nil
}

// errDecided stops a scan early; it never leaves the package.
var errDecided = errors.New("decided")

// errBadJSON is returned by Match when data is not valid JSON.
var errBadJSON = errors.New("event data is not valid JSON")
