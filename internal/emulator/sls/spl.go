package sls

import (
	"fmt"
	"strings"
	"unicode"
)

// The subset of SLS's SPL (Structured Process Language) the emulator runs
// on PullLogs with a query, as the SDK's PullLogRequest.Query sends it:
//
//   - every log
//   - | where <cond> [and <cond>…]     logs where every condition holds
//   - | project <field>[, <field>…]    only those contents
//
// stages chained in any order, each after a '|'. A condition is
// <field> = '<text>' or <field> != '<text>'; a field is a name or a
// "double-quoted" name, __topic__ and __source__ being the group's; a
// text is single-quoted, ” standing for a quote. Values compare as text,
// and a log without the field satisfies neither = nor != (SQL's null). A
// group left without logs is not returned. Anything else — other
// commands, functions, or, numbers — is refused with ParameterInvalid
// naming what the emulator does not run, rather than served unfiltered.
type splQuery struct {
	stages []splStage
}

type splStage struct {
	where   []splCond // and-ed; nil for a project stage
	project []string
}

type splCond struct {
	field, value string
	neq          bool
}

// maxQueryLen bounds a query (SLS's own bound is larger; this is the
// emulator's).
const maxQueryLen = 4096

func parseSPL(q string) (*splQuery, error) {
	if len(q) > maxQueryLen {
		return nil, fmt.Errorf("query is longer than %d bytes", maxQueryLen)
	}
	toks, err := splTokens(q)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 || toks[0] != (splToken{kind: tokOp, text: "*"}) {
		return nil, fmt.Errorf("an SPL query starts with *")
	}
	p := &splParser{toks: toks[1:]}
	out := &splQuery{}
	for !p.done() {
		if !p.accept(tokOp, "|") {
			return nil, fmt.Errorf("expected | before %q", p.peek().text)
		}
		switch cmd := strings.ToLower(p.next().text); cmd {
		case "where":
			var st splStage
			for {
				c, err := p.cond()
				if err != nil {
					return nil, err
				}
				st.where = append(st.where, c)
				if !p.acceptWord("and") {
					break
				}
			}
			out.stages = append(out.stages, st)
		case "project":
			var st splStage
			for {
				f := p.next()
				if f.kind != tokField {
					return nil, fmt.Errorf("project: expected a field name, got %q", f.text)
				}
				st.project = append(st.project, f.text)
				if !p.accept(tokOp, ",") {
					break
				}
			}
			out.stages = append(out.stages, st)
		default:
			return nil, fmt.Errorf("the emulator runs SPL's where and project only, not %q", cmd)
		}
		if !p.done() && p.peek().text != "|" {
			return nil, fmt.Errorf("the emulator does not run %q here (only and-ed = and != conditions)", p.peek().text)
		}
	}
	return out, nil
}

type tokKind int

const (
	tokField  tokKind = iota // a name or "quoted name"
	tokString                // 'text'
	tokOp                    // * | = != ,
)

type splToken struct {
	kind tokKind
	text string
}

func splTokens(q string) ([]splToken, error) {
	var out []splToken
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '*' || c == '|' || c == '=' || c == ',':
			out = append(out, splToken{tokOp, string(c)})
			i++
		case c == '!' && i+1 < len(q) && q[i+1] == '=':
			out = append(out, splToken{tokOp, "!="})
			i += 2
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(q); j++ {
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c {
						b.WriteByte(c)
						j++
						continue
					}
					break
				}
				b.WriteByte(q[j])
			}
			if j >= len(q) {
				return nil, fmt.Errorf("unterminated %c at byte %d", c, i)
			}
			kind := tokString
			if c == '"' {
				kind = tokField
			}
			out = append(out, splToken{kind, b.String()})
			i = j + 1
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i
			for j < len(q) && (q[j] == '_' || q[j] == '.' || q[j] == '-' || unicode.IsLetter(rune(q[j])) || unicode.IsDigit(rune(q[j]))) {
				j++
			}
			out = append(out, splToken{tokField, q[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("the emulator does not run SPL with %q (byte %d)", c, i)
		}
	}
	return out, nil
}

type splParser struct {
	toks []splToken
	i    int
}

func (p *splParser) done() bool { return p.i >= len(p.toks) }

func (p *splParser) peek() splToken {
	if p.done() {
		return splToken{kind: tokOp, text: "end of query"}
	}
	return p.toks[p.i]
}

func (p *splParser) next() splToken {
	t := p.peek()
	p.i++
	return t
}

func (p *splParser) accept(kind tokKind, text string) bool {
	if t := p.peek(); !p.done() && t.kind == kind && t.text == text {
		p.i++
		return true
	}
	return false
}

func (p *splParser) acceptWord(w string) bool {
	if t := p.peek(); !p.done() && t.kind == tokField && strings.EqualFold(t.text, w) {
		p.i++
		return true
	}
	return false
}

func (p *splParser) cond() (splCond, error) {
	f := p.next()
	if f.kind != tokField {
		return splCond{}, fmt.Errorf("where: expected a field name, got %q", f.text)
	}
	var c splCond
	switch op := p.next(); {
	case op.kind == tokOp && op.text == "=":
	case op.kind == tokOp && op.text == "!=":
		c.neq = true
	default:
		return splCond{}, fmt.Errorf("where: the emulator runs = and != only, got %q", op.text)
	}
	v := p.next()
	if v.kind != tokString {
		return splCond{}, fmt.Errorf("where: expected a 'quoted' text after %s, got %q", f.text, v.text)
	}
	c.field, c.value = f.text, v.text
	return c, nil
}

// apply runs q over g's logs.
func (q *splQuery) apply(g LogGroup) LogGroup {
	out := g
	out.Logs = nil
	for _, l := range g.Logs {
		keep := true
		for _, st := range q.stages {
			if st.project != nil {
				l = projectLog(l, st.project)
				continue
			}
			for _, c := range st.where {
				v, ok := field(g, l, c.field)
				if !ok || (v == c.value) == c.neq {
					keep = false
					break
				}
			}
			if !keep {
				break
			}
		}
		if keep {
			out.Logs = append(out.Logs, l)
		}
	}
	return out
}

func field(g LogGroup, l Log, name string) (string, bool) {
	switch name {
	case "__topic__":
		return g.Topic, true
	case "__source__":
		return g.Source, true
	}
	for _, p := range l.Contents {
		if p.Key == name {
			return p.Value, true
		}
	}
	return "", false
}

func projectLog(l Log, fields []string) Log {
	out := Log{Time: l.Time, TimeNs: l.TimeNs}
	for _, f := range fields {
		for _, p := range l.Contents {
			if p.Key == f {
				out.Contents = append(out.Contents, p)
				break
			}
		}
	}
	return out
}
