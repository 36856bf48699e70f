package template

import "github.com/ferryhq/ferry/transform/internal/rawjson"

// seg is one step of a simple JSONPath: an object member or an array index.
type seg struct {
	name  string
	index int // >= 0 for an array index, -1 for a member
}

// node is one step of the extraction trie: every simple data path of a
// template shares one trie, so data is scanned once however many variables
// read it.
type node struct {
	members []*node // object members to descend into
	indexes []*node // array elements to descend into
	name    string
	index   int
	slot    int // the path ending here, or -1
}

// extractor finds the raw JSON of a fixed set of simple paths in a
// document with one scan and no allocation.
type extractor struct {
	root  node
	slots int
	// members is set when every path is one member of the top-level
	// object ($.data.id, $.data.status), the common case that
	// extractMembers reads without the general walk's recursion.
	members bool
}

func newExtractor() *extractor { return &extractor{root: node{slot: -1, index: -1}} }

// add registers a path and returns its slot; equal paths share a slot.
func (x *extractor) add(segs []seg) int {
	n := &x.root
	for _, s := range segs {
		n = n.child(s)
	}
	if n.slot < 0 {
		n.slot = x.slots
		x.slots++
	}
	x.members = len(x.root.indexes) == 0 && len(x.root.members) > 0 && x.root.slot < 0
	for _, c := range x.root.members {
		if len(c.members) > 0 || len(c.indexes) > 0 {
			x.members = false
		}
	}
	return n.slot
}

func (n *node) child(s seg) *node {
	list := &n.members
	if s.index >= 0 {
		list = &n.indexes
	}
	for _, c := range *list {
		if c.name == s.name && c.index == s.index {
			return c
		}
	}
	c := &node{name: s.name, index: s.index, slot: -1}
	*list = append(*list, c)
	return c
}

// span locates a found value in the document: b[lo:hi]; hi is 0 when the
// path was not found (a value is never empty).
type span struct{ lo, hi int }

// extract fills spans (len == x.slots) with the location of every path in
// doc. A path that is absent keeps hi == 0. Scanning stops as soon as
// every path is found, so malformed JSON after that point goes unnoticed;
// every value returned is valid JSON. Duplicate object keys: the first wins.
func (x *extractor) extract(doc []byte, spans []span) error {
	if x.members {
		if i := rawjson.WS(doc, 0); i < len(doc) && doc[i] == '{' {
			return x.extractMembers(doc, i, spans)
		}
	}
	return x.walk(doc, spans)
}

// walk is extract for any extractor: one recursive walk of the document
// along the trie.
func (x *extractor) walk(doc []byte, spans []span) error {
	// Field by field: a composite literal here is built in one place on
	// the stack and copied to another, which costs more than the scan of
	// a short document.
	var s scanner
	s.b, s.spans, s.left = doc, spans, x.slots
	end, err := s.value(0, &x.root)
	switch {
	case err == errDone:
		return nil
	case err != nil:
		return err
	case rawjson.WS(doc, end) != len(doc):
		return ErrData
	}
	return nil
}

// extractMembers is extract, when x.members is set, on the object whose
// opening brace is at doc[i]: one loop over its members, with the same
// checks and the same answers as the general walk.
func (x *extractor) extractMembers(doc []byte, i int, spans []span) error {
	left := x.slots
	i, done := rawjson.Open(doc, i)
	for !done {
		if i >= len(doc) || doc[i] != '"' {
			return ErrData
		}
		ke, esc, ok := rawjson.String(doc, i)
		if !ok {
			return ErrData
		}
		j, ok := rawjson.Colon(doc, ke)
		if !ok || j >= len(doc) {
			return ErrData
		}
		child, err := x.root.member(doc[i+1:ke], esc)
		if err != nil {
			return err
		}
		end, ok := rawjson.Skip(doc, j)
		if !ok {
			return ErrData
		}
		if child != nil && spans[child.slot].hi == 0 {
			// Skip leaves strings and containers unchecked (see value).
			if c := doc[j]; (c == '"' || c == '{' || c == '[') && !rawjson.Valid(doc[j:end]) {
				return ErrData
			}
			spans[child.slot] = span{lo: j, hi: end}
			if left--; left == 0 {
				return nil
			}
		}
		if i, done, ok = rawjson.Next(doc, end, '}'); !ok {
			return ErrData
		}
	}
	if rawjson.WS(doc, i) != len(doc) {
		return ErrData
	}
	return nil
}

// scanner walks the document once for the extraction trie; the token
// scanning is rawjson's.
type scanner struct {
	b     []byte
	spans []span
	left  int
}

// value handles the value at (or after whitespace at) i for trie node n
// and returns the index after it.
func (s *scanner) value(i int, n *node) (int, error) {
	i = rawjson.WS(s.b, i)
	if i >= len(s.b) {
		return 0, ErrData
	}
	var end int
	var err error
	switch c := s.b[i]; {
	case c == '{' && len(n.members) > 0:
		end, err = s.object(i, n)
	case c == '[' && len(n.indexes) > 0:
		end, err = s.array(i, n)
	default:
		end, err = s.skip(i)
	}
	if err != nil {
		return 0, err
	}
	if n.slot >= 0 && s.spans[n.slot].hi == 0 {
		// Skip validates numbers and literals (rawjson.Literal) but
		// leaves strings and containers unchecked; a value that is
		// returned must be valid JSON.
		if c := s.b[i]; (c == '"' || c == '{' || c == '[') && !rawjson.Valid(s.b[i:end]) {
			return 0, ErrData
		}
		s.spans[n.slot] = span{lo: i, hi: end}
		if s.left--; s.left == 0 {
			return 0, errDone
		}
	}
	return end, nil
}

func (s *scanner) object(i int, n *node) (int, error) {
	i, done := rawjson.Open(s.b, i)
	for !done {
		if i >= len(s.b) || s.b[i] != '"' {
			return 0, ErrData
		}
		ke, esc, ok := rawjson.String(s.b, i)
		if !ok {
			return 0, ErrData
		}
		key := s.b[i+1 : ke]
		j, ok := rawjson.Colon(s.b, ke)
		if !ok {
			return 0, ErrData
		}
		child, err := n.member(key, esc)
		if err != nil {
			return 0, err
		}
		if child != nil {
			i, err = s.value(j, child)
		} else {
			i, err = s.skip(j)
		}
		if err != nil {
			return 0, err
		}
		if i, done, ok = rawjson.Next(s.b, i, '}'); !ok {
			return 0, ErrData
		}
	}
	return i, nil
}

// member finds the child for a raw key; escaped keys are decoded first.
func (n *node) member(key []byte, escaped bool) (*node, error) {
	if escaped {
		if !rawjson.ValidString(key) {
			return nil, ErrData
		}
		var buf [64]byte
		key = rawjson.Unescape(buf[:0], key)
	}
	for _, c := range n.members {
		if c.name == string(key) {
			return c, nil
		}
	}
	return nil, nil
}

func (s *scanner) array(i int, n *node) (int, error) {
	i, done := rawjson.Open(s.b, i)
	for k := 0; !done; k++ {
		var child *node
		for _, c := range n.indexes {
			if c.index == k {
				child = c
				break
			}
		}
		var err error
		if child != nil {
			i, err = s.value(i, child)
		} else {
			i, err = s.skip(i)
		}
		if err != nil {
			return 0, err
		}
		var ok bool
		if i, done, ok = rawjson.Next(s.b, i, ']'); !ok {
			return 0, ErrData
		}
	}
	return i, nil
}

// skip returns the index after the JSON value at i, which no path reads.
func (s *scanner) skip(i int) (int, error) {
	end, ok := rawjson.Skip(s.b, i)
	if !ok {
		return 0, ErrData
	}
	return end, nil
}

// validValue reports whether raw is one valid JSON value.
func validValue(raw []byte) bool { return rawjson.Valid(raw) }

// lookup finds one simple path in doc, for the general (library) path.
func lookup(doc []byte, segs []seg) ([]byte, error) {
	x := newExtractor()
	x.add(segs)
	var sp [1]span
	if err := x.extract(doc, sp[:]); err != nil {
		return nil, err
	}
	if sp[0].hi == 0 {
		return nil, nil
	}
	return doc[sp[0].lo:sp[0].hi], nil
}
