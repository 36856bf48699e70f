package smt

import (
	"errors"
	"regexp"
	"strings"

	"github.com/ferryhq/ferry/api"
)

// RegexRouter rewrites the record's destination (Kafka's RegexRouter).
// Kafka rewrites the topic; a Ferry sink reads its destination (topic,
// queue, table) from the event through a template parameter, by default
// the subject, so the router rewrites the subject unless told to rewrite
// another attribute or an extension.
var RegexRouter = api.TransformPlugin{
	Name:    "regex-router",
	Summary: "Rewrite the destination (the subject, or another attribute or extension) with a regular expression (Kafka RegexRouter).",
	Spec: api.Spec{
		{Name: "regex", Type: api.TypeString, Required: true, Check: checkRegex,
			Description: "Go regular expression (RE2) that must match the whole value, as Java's Matcher.matches does in Kafka."},
		{Name: "replacement", Type: api.TypeString, Required: true,
			Description: "Replacement; $1 or ${1} (and ${name}) insert groups. Write ${1} when letters, digits or _ follow."},
		{Name: "target", Type: api.TypeString, Default: "subject", Check: checkTarget,
			Description: "What to rewrite: subject, type, source, or extension:<name>."},
	},
	New: func(c api.Config) (api.Transform, error) {
		re, err := compileWhole(c.String("regex"))
		if err != nil {
			return nil, configError("regex", err.Error())
		}
		return &regexRouter{re: re, replacement: c.String("replacement"), target: c.String("target")}, nil
	},
}

func checkRegex(v string) error {
	_, err := compileWhole(v)
	return err
}

// compileWhole compiles a pattern that must match the whole input.
func compileWhole(v string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + v + `)$`)
}

func checkTarget(v string) error {
	switch v {
	case "subject", "type", "source":
		return nil
	}
	if name, ok := strings.CutPrefix(v, "extension:"); ok {
		return checkExtensionName(name)
	}
	return errors.New("must be subject, type, source or extension:<name>")
}

type regexRouter struct {
	re          *regexp.Regexp
	replacement string
	target      string
	buf         []byte
}

// Apply rewrites the target when the regex matches it; otherwise (and for
// an absent or non-string extension) the record passes unchanged.
func (t *regexRouter) Apply(r *api.Record) (bool, error) {
	ev := &r.Event
	var dst *string
	switch t.target {
	case "subject":
		dst = &ev.Subject
	case "type":
		dst = &ev.Type
	case "source":
		dst = &ev.Source
	default:
		name := strings.TrimPrefix(t.target, "extension:")
		s, ok := ev.Extensions[name].(string)
		if !ok {
			return true, nil
		}
		if out, ok := t.rewrite(s); ok {
			ev.Extensions[name] = out
		}
		return true, nil
	}
	if out, ok := t.rewrite(*dst); ok {
		*dst = out
	}
	return true, nil
}

func (t *regexRouter) rewrite(s string) (string, bool) {
	m := t.re.FindStringSubmatchIndex(s)
	if m == nil {
		return "", false
	}
	t.buf = t.re.ExpandString(t.buf[:0], t.replacement, s, m)
	return string(t.buf), true
}
