package template

import (
	"bytes"
	"encoding/json"
)

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

// span locates a found value in the document: b[lo:hi].
type span struct {
	lo, hi int
	ok     bool
}

// extract fills spans (len == x.slots) with the location of every path in
// doc. A path that is absent keeps ok == false. Scanning stops as soon as
// every path is found, so malformed JSON after that point goes unnoticed;
// every value returned is valid JSON. Duplicate object keys: the first wins.
func (x *extractor) extract(doc []byte, spans []span) error {
	s := scanner{b: doc, spans: spans, left: x.slots}
	end, err := s.value(0, &x.root)
	switch {
	case err == errDone:
		return nil
	case err != nil:
		return err
	case s.ws(end) != len(doc):
		return ErrData
	}
	return nil
}

type scanner struct {
	b     []byte
	spans []span
	left  int
}

func (s *scanner) ws(i int) int {
	for i < len(s.b) {
		switch s.b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value handles the value at (or after whitespace at) i for trie node n
// and returns the index after it.
func (s *scanner) value(i int, n *node) (int, error) {
	i = s.ws(i)
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
	if n.slot >= 0 && !s.spans[n.slot].ok {
		if !validValue(s.b[i:end]) {
			return 0, ErrData
		}
		s.spans[n.slot] = span{lo: i, hi: end, ok: true}
		if s.left--; s.left == 0 {
			return 0, errDone
		}
	}
	return end, nil
}

func (s *scanner) object(i int, n *node) (int, error) {
	i = s.ws(i + 1)
	if i < len(s.b) && s.b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(s.b) || s.b[i] != '"' {
			return 0, ErrData
		}
		ks, ke, esc, err := s.str(i)
		if err != nil {
			return 0, err
		}
		child := n.member(s.b[ks:ke], esc)
		i = s.ws(ke + 1)
		if i >= len(s.b) || s.b[i] != ':' {
			return 0, ErrData
		}
		if child != nil {
			i, err = s.value(i+1, child)
		} else {
			i, err = s.skip(s.ws(i + 1))
		}
		if err != nil {
			return 0, err
		}
		var done bool
		if i, done, err = s.next(i, '}'); err != nil || done {
			return i, err
		}
	}
}

// next reads past the separator after a member or an element; done
// reports the closing bracket, and i is then the index after it.
func (s *scanner) next(i int, closing byte) (_ int, done bool, _ error) {
	i = s.ws(i)
	if i >= len(s.b) {
		return 0, false, ErrData
	}
	switch s.b[i] {
	case ',':
		return s.ws(i + 1), false, nil
	case closing:
		return i + 1, true, nil
	}
	return 0, false, ErrData
}

// member finds the child for a raw key; escaped keys are decoded first.
func (n *node) member(key []byte, escaped bool) *node {
	if escaped {
		if !validString(key) {
			return nil
		}
		var buf [64]byte
		key = appendUnescaped(buf[:0], key)
	}
	for _, c := range n.members {
		if c.name == string(key) {
			return c
		}
	}
	return nil
}

func (s *scanner) array(i int, n *node) (int, error) {
	i = s.ws(i + 1)
	if i < len(s.b) && s.b[i] == ']' {
		return i + 1, nil
	}
	for k := 0; ; k++ {
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
			i, err = s.skip(s.ws(i))
		}
		if err != nil {
			return 0, err
		}
		var done bool
		if i, done, err = s.next(i, ']'); err != nil || done {
			return i, err
		}
	}
}

// str finds the string whose opening quote is at i: its contents are
// b[start:end] and b[end] is the closing quote. escaped reports a backslash
// in the contents. Short strings (most keys and values) are walked byte by
// byte; past shortString bytes it switches to IndexByte, which is faster on
// long runs.
func (s *scanner) str(i int) (start, end int, escaped bool, err error) {
	start = i + 1
	j := start
	for lim := min(len(s.b), start+shortString); j < lim; {
		switch s.b[j] {
		case '"':
			return start, j, escaped, nil
		case '\\':
			escaped = true
			j += 2
		default:
			j++
		}
	}
	for {
		if j >= len(s.b) {
			return 0, 0, false, ErrData
		}
		k := bytes.IndexByte(s.b[j:], '"')
		if k < 0 {
			return 0, 0, false, ErrData
		}
		q := j + k
		bs := bytes.IndexByte(s.b[j:q], '\\')
		if bs < 0 {
			return start, q, escaped, nil
		}
		escaped = true
		p := j + bs
		for p < q {
			if s.b[p] == '\\' {
				p += 2
			} else {
				p++
			}
		}
		if p == q {
			return start, q, true, nil
		}
		j = q + 1 // the quote at q was escaped
	}
}

const shortString = 24

// skip returns the index after the JSON value at i. Inside objects and
// arrays it checks structure only as far as needed to find the end; values
// that are extracted are validated separately.
func (s *scanner) skip(i int) (int, error) {
	if i >= len(s.b) {
		return 0, ErrData
	}
	switch s.b[i] {
	case '{', '[':
		depth := 0
		for i < len(s.b) {
			switch s.b[i] {
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, nil
				}
			case '"':
				_, end, _, err := s.str(i)
				if err != nil {
					return 0, err
				}
				i = end
			}
			i++
		}
		return 0, ErrData
	case '"':
		_, end, _, err := s.str(i)
		return end + 1, err
	case '}', ']', ',', ':':
		return 0, ErrData
	default:
		// A number or literal: short, so checked in full.
		j := i
	scan:
		for j < len(s.b) {
			switch s.b[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				break scan
			}
			j++
		}
		if !validValue(s.b[i:j]) {
			return 0, ErrData
		}
		return j, nil
	}
}

// validValue reports whether raw is one valid JSON value: scalars are
// checked here without allocating, objects and arrays by encoding/json.
func validValue(raw []byte) bool {
	switch raw[0] {
	case '"':
		return len(raw) >= 2 && raw[len(raw)-1] == '"' && validString(raw[1:len(raw)-1])
	case 't':
		return string(raw) == "true"
	case 'f':
		return string(raw) == "false"
	case 'n':
		return string(raw) == "null"
	case '{', '[':
		return json.Valid(raw)
	default:
		return validNumber(raw)
	}
}

// lookup finds one simple path in doc, for the general (library) path.
func lookup(doc []byte, segs []seg) ([]byte, error) {
	x := newExtractor()
	x.add(segs)
	var sp [1]span
	if err := x.extract(doc, sp[:]); err != nil {
		return nil, err
	}
	if !sp[0].ok {
		return nil, nil
	}
	return doc[sp[0].lo:sp[0].hi], nil
}
