package pattern

import (
	"encoding/json"
	"errors"
	"fmt"
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
	// (exists:false) and no array needs consistency, so the scan may stop
	// once all have matched; else 0.
	dataAll uint64
	dialect Dialect
	// consistent is set when some array of objects needs array
	// consistency (AWS dialect, two or more leaves below it).
	consistent bool
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
	// below has a bit for every leaf strictly under this node; an array
	// here whose elements are objects is matched element by element when
	// the pattern is consistent and below holds two or more leaves.
	below uint64
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

// Compile parses and validates an event pattern in the default dialect,
// Alibaba.
func Compile(src string) (*Pattern, error) { return CompileDialect(src, Alibaba) }

// CompileDialect parses and validates an event pattern in dialect d.
func CompileDialect(src string, d Dialect) (*Pattern, error) {
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
	p := &Pattern{src: src, dialect: d}
	c := compiler{p: p, d: d}
	e, err := c.level(obj, nil, "$")
	if err != nil {
		return nil, err
	}
	p.expr = e
	if p.data != nil {
		p.data.index()
		if d == AWS {
			p.consistent = p.data.needsConsistency()
		}
	}
	for id, l := range p.leaves {
		if p.consistent {
			break
		}
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

// index fills below for n and its descendants and returns n's own leaves
// and those below it.
func (n *node) index() uint64 {
	n.below = 0
	for _, c := range n.children {
		n.below |= c.index()
	}
	all := n.below
	for _, id := range n.leaves {
		all |= 1 << id
	}
	return all
}

// needsConsistency reports whether some node has two or more leaves
// below it, so that an array there would be matched element by element.
func (n *node) needsConsistency() bool {
	if n.below&(n.below-1) != 0 {
		return true
	}
	for _, c := range n.children {
		if c.needsConsistency() {
			return true
		}
	}
	return false
}

// Check validates a pattern in the default dialect for config validation:
// nil, or an error whose message names the JSON path of the offending
// element.
func Check(src string) error { return CheckDialect(src, Alibaba) }

// CheckDialect is Check in dialect d.
func CheckDialect(src string, d Dialect) error {
	_, err := CompileDialect(src, d)
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

type compiler struct {
	p *Pattern
	d Dialect
}

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
				if ok && len(ao) == 0 {
					return e, &SyntaxError{Path: fmt.Sprintf("%s[%d]", kp, i), Msg: "an empty $or alternative matches every event"}
				}
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
			if len(t) == 0 {
				return e, &SyntaxError{Path: kp, Msg: "an empty object tests nothing; remove it or name a field"}
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
		cd, err := c.condition(a, fmt.Sprintf("%s[%d]", jpath, i))
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
