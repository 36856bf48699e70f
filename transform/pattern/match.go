package pattern

import (
	"slices"
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
	if sc.alts == nil {
		return p.eval(&p.expr, &sc.st), nil
	}
	// Array consistency: the fields under each array of objects come from
	// one element, so the match holds for one of the alternatives.
	for _, a := range sc.alts {
		st := state{present: sc.st.present | a.present, matched: sc.st.matched | a.matched}
		if p.eval(&p.expr, &st) {
			return true, nil
		}
	}
	return false, nil
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

// matchAttr tests an attribute or extension. Numbers carry their text for
// the alibaba dialect's exact matches; strconv has small integers ready.
func (p *Pattern) matchAttr(id int, ev *api.Event, st *state) {
	name := p.leaves[id].attr
	s, isAttr := ev.Attribute(name)
	switch {
	case isAttr:
	case name == "time":
		if !ev.Time.IsZero() {
			var buf [40]byte
			v := value{k: kString, s: ev.Time.UTC().AppendFormat(buf[:0], time.RFC3339Nano)}
			p.test(id, &v, st)
		}
		return
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
			v = value{k: kBool, b: t, s: unsafeBytes(strconv.FormatBool(t))}
		case int64:
			v = value{k: kNumber, f: float64(t), s: unsafeBytes(strconv.FormatInt(t, 10))}
		case int:
			v = value{k: kNumber, f: float64(t), s: unsafeBytes(strconv.Itoa(t))}
		case float64:
			v = value{k: kNumber, f: t, s: unsafeBytes(strconv.FormatFloat(t, 'g', -1, 64))}
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
	// alts, when not nil, are the alternatives that arrays of objects
	// needing consistency left: the final state is st and one of them.
	alts []state
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

// presentObject records an object (or, in the alibaba dialect, an empty
// array) where n's leaves are. Exists tests leaves in both references: in
// the alibaba dialect the field is present but matches no condition (not
// even exists), in the aws dialect it is absent.
func (s *scanner) presentObject(n *node) {
	if s.p.dialect == AWS {
		return
	}
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
// element does. An empty array leaves the field absent in the aws
// dialect, present but matching nothing in the alibaba dialect.
func (s *scanner) array(i int, n *node) (int, error) {
	if s.p.consistent && n.below&(n.below-1) != 0 {
		return s.consistentArray(i, n)
	}
	i, done := rawjson.Open(s.b, i)
	if done {
		s.presentObject(n)
	}
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
		v.k, v.b, v.s = kBool, s.b[i] == 't', s.b[i:end]
	case 'n':
		v.k = kNull
	default:
		v.s = s.b[i:end]
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

// maxAlts bounds the alternatives array consistency keeps; past it the
// elements' matches are merged, as without consistency.
const maxAlts = 64

// consistentArray applies n to every element of the array at i, each
// element on its own: the leaves below n match in one element or not at
// all (event-ruler's array consistency). Each element leaves alternatives
// (more than one when it holds such arrays itself); the array's
// alternatives are all of its elements', combined with those already
// found elsewhere in the event.
func (s *scanner) consistentArray(i int, n *node) (int, error) {
	outer, outerAlts := s.st, s.alts
	var cands []state
	i, done := rawjson.Open(s.b, i)
	for !done {
		s.st, s.alts = state{}, nil
		var err error
		if i, err = s.value(i, n); err != nil {
			return 0, err
		}
		cands = appendAlts(cands, s.st, s.alts)
		var ok bool
		if i, done, ok = rawjson.Next(s.b, i, ']'); !ok {
			return 0, errBadJSON
		}
	}
	s.st = outer
	if len(cands) == 0 {
		s.alts = outerAlts
		return i, nil
	}
	if outerAlts == nil {
		s.alts = cands
		return i, nil
	}
	var all []state
	for _, o := range outerAlts {
		all = appendAlts(all, o, cands)
	}
	s.alts = all
	return i, nil
}

// appendAlts appends base combined with each of alts (base alone when alts
// is nil) to dst, without duplicates; past maxAlts everything is merged
// into one.
func appendAlts(dst []state, base state, alts []state) []state {
	add := func(st state) {
		if !slices.Contains(dst, st) {
			dst = append(dst, st)
		}
	}
	if alts == nil {
		add(base)
	}
	for _, a := range alts {
		add(state{present: base.present | a.present, matched: base.matched | a.matched})
	}
	if len(dst) > maxAlts {
		var m state
		for _, st := range dst {
			m.present |= st.present
			m.matched |= st.matched
		}
		dst = append(dst[:0], m)
	}
	return dst
}
