package pattern

import (
	"strconv"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/internal/rawjson"
)

// state records, per leaf, whether the field was present and whether one
// of its occurrences matched a condition.
type state struct {
	present, matched uint64
}

// Match reports whether ev matches the pattern. The error is non-nil only
// when the pattern tests data and ev's data is not valid JSON.
func (p *Pattern) Match(ev *api.Event) (bool, error) {
	sc := scanner{b: ev.Data, p: p}
	for _, id := range p.attrs {
		p.matchAttr(id, ev, &sc.st)
	}
	if p.data != nil && len(ev.Data) > 0 && api.IsJSONContentType(ev.DataContentType) {
		i, err := sc.value(rawjson.WS(sc.b, 0), p.data)
		switch {
		case err == errDecided:
		case err != nil:
			return false, err
		case rawjson.WS(sc.b, i) != len(sc.b):
			return false, errBadJSON
		}
	}
	return p.eval(&p.expr, &sc.st), nil
}

func (p *Pattern) eval(e *expr, st *state) bool {
	for _, id := range e.leaves {
		bit := uint64(1) << id
		if st.matched&bit == 0 && (st.present&bit != 0 || !p.leaves[id].existsFalse) {
			return false
		}
	}
	for _, group := range e.ors {
		ok := false
		for i := range group {
			if p.eval(&group[i], st) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// test evaluates leaf id's conditions on one occurrence of its field.
func (p *Pattern) test(id int, v *value, st *state) {
	bit := uint64(1) << id
	st.present |= bit
	if st.matched&bit != 0 {
		return
	}
	conds := p.leaves[id].conds
	for i := range conds {
		if conds[i].match(v) {
			st.matched |= bit
			return
		}
	}
}

func (p *Pattern) matchAttr(id int, ev *api.Event, st *state) {
	name := p.leaves[id].attr
	s, isAttr := ev.Attribute(name)
	switch {
	case isAttr:
	case name == "time":
		if !ev.Time.IsZero() {
			s = ev.Time.UTC().Format(time.RFC3339Nano)
		}
	default:
		x, ok := ev.Extensions[name]
		if !ok {
			return
		}
		var v value
		switch t := x.(type) {
		case string:
			v = value{k: kString, s: unsafeBytes(t)}
		case bool:
			v = value{k: kBool, b: t}
		case int64:
			v = value{k: kNumber, f: float64(t)}
		case int:
			v = value{k: kNumber, f: float64(t)}
		case float64:
			v = value{k: kNumber, f: t}
		case time.Time:
			v = value{k: kString, s: []byte(t.UTC().Format(time.RFC3339Nano))}
		default:
			return
		}
		p.test(id, &v, st)
		return
	}
	if s == "" {
		return // absent
	}
	v := value{k: kString, s: unsafeBytes(s)}
	p.test(id, &v, st)
}

// scanner walks raw JSON once, descending only into keys the pattern
// tests and skipping everything else. The token scanning is rawjson's.
type scanner struct {
	b  []byte
	p  *Pattern
	st state
}

// value handles the JSON value at i for trie node n and returns the index
// after it.
func (s *scanner) value(i int, n *node) (int, error) {
	if i >= len(s.b) {
		return 0, errBadJSON
	}
	switch c := s.b[i]; {
	case c == '{':
		if len(n.children) == 0 {
			end, err := s.skip(i)
			if err == nil {
				s.presentObject(n)
			}
			return end, err
		}
		s.presentObject(n)
		return s.object(i, n)
	case c == '[':
		return s.array(i, n)
	default:
		if len(n.leaves) == 0 {
			return s.skip(i)
		}
		var v value
		end, err := s.scalar(i, &v)
		if err != nil {
			return 0, err
		}
		for _, id := range n.leaves {
			s.p.test(id, &v, &s.st)
		}
		return end, nil
	}
}

func (s *scanner) presentObject(n *node) {
	v := value{k: kObject}
	for _, id := range n.leaves {
		s.p.test(id, &v, &s.st)
	}
}

func (s *scanner) object(i int, n *node) (int, error) {
	i, done := rawjson.Open(s.b, i)
	for !done {
		if i >= len(s.b) || s.b[i] != '"' {
			return 0, errBadJSON
		}
		ke, esc, ok := rawjson.String(s.b, i)
		if !ok {
			return 0, errBadJSON
		}
		key := s.b[i+1 : ke]
		j, ok := rawjson.Colon(s.b, ke)
		if !ok {
			return 0, errBadJSON
		}
		if esc {
			if !rawjson.ValidString(key) {
				return 0, errBadJSON
			}
			// Keys are short: decoding them on the stack keeps the
			// common path free of allocations.
			var buf [64]byte
			key = rawjson.Unescape(buf[:0], key)
		}
		var child *node
		for _, c := range n.children {
			if c.key == string(key) {
				child = c
				break
			}
		}
		var err error
		if child != nil {
			i, err = s.value(j, child)
			// Stop reading once every data leaf has matched and none
			// depends on a field's absence.
			if err == nil && s.p.dataAll != 0 && s.st.matched&s.p.dataAll == s.p.dataAll {
				return 0, errDecided
			}
		} else {
			i, err = s.skip(j)
		}
		if err != nil {
			return 0, err
		}
		if i, done, ok = rawjson.Next(s.b, i, '}'); !ok {
			return 0, errBadJSON
		}
	}
	return i, nil
}

// array applies n to every element: an array field matches when any
// element does. Empty arrays leave the field absent.
func (s *scanner) array(i int, n *node) (int, error) {
	i, done := rawjson.Open(s.b, i)
	for !done {
		var err error
		if i, err = s.value(i, n); err != nil {
			return 0, err
		}
		var ok bool
		if i, done, ok = rawjson.Next(s.b, i, ']'); !ok {
			return 0, errBadJSON
		}
	}
	return i, nil
}

// scalar decodes the string, number, boolean or null at i into v. Strings
// with escapes are validated as they are decoded; others are compared as
// they stand.
func (s *scanner) scalar(i int, v *value) (int, error) {
	if s.b[i] == '"' {
		end, esc, ok := rawjson.String(s.b, i)
		if !ok {
			return 0, errBadJSON
		}
		v.k, v.s = kString, s.b[i+1:end]
		if esc {
			if !rawjson.ValidString(v.s) {
				return 0, errBadJSON
			}
			// Rare path, and it allocates: v is stored through a
			// pointer, so a stack buffer would be moved to the heap.
			v.s = rawjson.Unescape(make([]byte, 0, len(v.s)), v.s)
		}
		return end + 1, nil
	}
	end, ok := rawjson.Literal(s.b, i)
	if !ok {
		return 0, errBadJSON
	}
	switch s.b[i] {
	case 't', 'f':
		v.k, v.b = kBool, s.b[i] == 't'
	case 'n':
		v.k = kNull
	default:
		f, ok := smallInt(s.b[i:end])
		if !ok {
			var err error
			if f, err = strconv.ParseFloat(unsafeString(s.b[i:end]), 64); err != nil {
				return 0, errBadJSON // out of float64's range
			}
		}
		v.k, v.f = kNumber, f
	}
	return end, nil
}

// smallInt parses the common case, an integer of at most 15 digits (exact
// in a float64), without strconv's general float machinery.
func smallInt(b []byte) (float64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return float64(n), true
}

// skip returns the index after the JSON value at i, which no condition
// reads.
func (s *scanner) skip(i int) (int, error) {
	end, ok := rawjson.Skip(s.b, i)
	if !ok {
		return 0, errBadJSON
	}
	return end, nil
}
