package pattern

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/ferryhq/ferry/api"
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
		i, err := sc.value(sc.ws(0), p.data)
		switch {
		case err == errDecided:
		case err != nil:
			return false, err
		case sc.ws(i) != len(sc.b):
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
	var s string
	switch name := p.leaves[id].attr; name {
	case "id":
		s = ev.ID
	case "source":
		s = ev.Source
	case "specversion":
		s = ev.SpecVersion
		if s == "" {
			s = api.SpecVersion
		}
	case "type":
		s = ev.Type
	case "subject":
		s = ev.Subject
	case "datacontenttype":
		s = ev.DataContentType
	case "dataschema":
		s = ev.DataSchema
	case "time":
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
// tests and skipping everything else.
type scanner struct {
	b  []byte
	p  *Pattern
	st state
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
	i = s.ws(i + 1)
	if i < len(s.b) && s.b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(s.b) || s.b[i] != '"' {
			return 0, errBadJSON
		}
		ks, ke, esc, err := s.str(i)
		if err != nil {
			return 0, err
		}
		key := s.b[ks:ke]
		if esc {
			key = s.unescape(key)
		}
		var child *node
		for _, c := range n.children {
			if c.key == string(key) {
				child = c
				break
			}
		}
		i = s.ws(ke + 1)
		if i >= len(s.b) || s.b[i] != ':' {
			return 0, errBadJSON
		}
		i = s.ws(i + 1)
		if child != nil {
			i, err = s.value(i, child)
			// Stop reading once every data leaf has matched and none
			// depends on a field's absence.
			if err == nil && s.p.dataAll != 0 && s.st.matched&s.p.dataAll == s.p.dataAll {
				return 0, errDecided
			}
		} else {
			i, err = s.skip(i)
		}
		if err != nil {
			return 0, err
		}
		i = s.ws(i)
		if i >= len(s.b) {
			return 0, errBadJSON
		}
		switch s.b[i] {
		case ',':
			i = s.ws(i + 1)
		case '}':
			return i + 1, nil
		default:
			return 0, errBadJSON
		}
	}
}

// array applies n to every element: an array field matches when any
// element does. Empty arrays leave the field absent.
func (s *scanner) array(i int, n *node) (int, error) {
	i = s.ws(i + 1)
	if i < len(s.b) && s.b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = s.value(i, n); err != nil {
			return 0, err
		}
		i = s.ws(i)
		if i >= len(s.b) {
			return 0, errBadJSON
		}
		switch s.b[i] {
		case ',':
			i = s.ws(i + 1)
		case ']':
			return i + 1, nil
		default:
			return 0, errBadJSON
		}
	}
}

// scalar decodes the string, number, boolean or null at i into v.
func (s *scanner) scalar(i int, v *value) (int, error) {
	switch c := s.b[i]; {
	case c == '"':
		st, end, esc, err := s.str(i)
		if err != nil {
			return 0, err
		}
		v.k, v.s = kString, s.b[st:end]
		if esc {
			v.s = s.unescape(v.s)
		}
		return end + 1, nil
	case c == 't':
		if bytes.HasPrefix(s.b[i:], []byte("true")) {
			v.k, v.b = kBool, true
			return i + 4, nil
		}
	case c == 'f':
		if bytes.HasPrefix(s.b[i:], []byte("false")) {
			v.k, v.b = kBool, false
			return i + 5, nil
		}
	case c == 'n':
		if bytes.HasPrefix(s.b[i:], []byte("null")) {
			v.k = kNull
			return i + 4, nil
		}
	case c == '-' || (c >= '0' && c <= '9'):
		end := i + 1
		for end < len(s.b) {
			d := s.b[end]
			if (d >= '0' && d <= '9') || d == '.' || d == 'e' || d == 'E' || d == '+' || d == '-' {
				end++
				continue
			}
			break
		}
		f, err := strconv.ParseFloat(unsafeString(s.b[i:end]), 64)
		if err != nil {
			return 0, errBadJSON
		}
		v.k, v.f = kNumber, f
		return end, nil
	}
	return 0, errBadJSON
}

// str finds the string starting at the quote at i: its contents are
// b[start:end] and b[end] is the closing quote.
func (s *scanner) str(i int) (start, end int, escaped bool, err error) {
	start = i + 1
	j := start
	for {
		k := bytes.IndexByte(s.b[j:], '"')
		if k < 0 {
			return 0, 0, false, errBadJSON
		}
		j += k
		// Count the backslashes before the quote: an odd number escapes it.
		bs := 0
		for m := j - 1; m >= start && s.b[m] == '\\'; m-- {
			bs++
		}
		if bs > 0 {
			escaped = true
		}
		if bs%2 == 0 {
			if !escaped && bytes.IndexByte(s.b[start:j], '\\') >= 0 {
				escaped = true
			}
			return start, j, escaped, nil
		}
		j++
	}
}

// unescape decodes a JSON string's contents (rare path; allocates).
func (s *scanner) unescape(raw []byte) []byte {
	q := make([]byte, 0, len(raw)+2)
	q = append(q, '"')
	q = append(q, raw...)
	q = append(q, '"')
	var u string
	if err := json.Unmarshal(q, &u); err != nil {
		return raw
	}
	return []byte(u)
}

// skip returns the index after the JSON value at i.
func (s *scanner) skip(i int) (int, error) {
	if i >= len(s.b) {
		return 0, errBadJSON
	}
	switch s.b[i] {
	case '{', '[':
		depth := 0
		for i < len(s.b) {
			switch s.b[i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
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
		return 0, errBadJSON
	case '"':
		_, end, _, err := s.str(i)
		return end + 1, err
	default:
		// Numbers and literals: validated only as far as the delimiter.
		j := i
		for j < len(s.b) {
			switch s.b[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if j == i {
					return 0, errBadJSON
				}
				return j, nil
			}
			j++
		}
		if j == i {
			return 0, errBadJSON
		}
		return j, nil
	}
}
