package predicate

import (
	"bytes"
	"fmt"
	"regexp"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/pattern"
)

// Pattern accepts events matching an EventBridge event pattern.
var Pattern = api.PredicatePlugin{
	Name:    "pattern",
	Summary: "True for events matching an EventBridge event pattern.",
	Spec: api.Spec{
		{Name: "pattern", Type: api.TypeJSON, Required: true, Check: pattern.Check,
			Description: `EventBridge event pattern, e.g. {"type":[{"prefix":"order."}]}.`},
	},
	New: func(c api.Config) (api.Predicate, error) {
		p, err := pattern.Compile(c.String("pattern"))
		if err != nil {
			return nil, err
		}
		return patternPredicate{p}, nil
	},
}

type patternPredicate struct{ p *pattern.Pattern }

func (p patternPredicate) Test(r *api.Record) (bool, error) {
	ok, err := p.p.Match(&r.Event)
	if err != nil {
		return false, fmt.Errorf("pattern: %w", err)
	}
	return ok, nil
}

// HasExtension accepts events carrying an extension attribute (Kafka's
// HasHeaderKey).
var HasExtension = api.PredicatePlugin{
	Name:    "has-extension",
	Summary: "True for events that have the named extension attribute (Kafka HasHeaderKey).",
	Spec: api.Spec{
		{Name: "name", Type: api.TypeString, Required: true, Description: "Extension attribute name."},
	},
	New: func(c api.Config) (api.Predicate, error) {
		return hasExtension(c.String("name")), nil
	},
}

type hasExtension string

func (h hasExtension) Test(r *api.Record) (bool, error) {
	_, ok := r.Event.Extensions[string(h)]
	return ok, nil
}

// SubjectMatches accepts events whose subject, the default destination,
// matches a regex (Kafka's TopicNameMatches).
var SubjectMatches = api.PredicatePlugin{
	Name:    "subject-matches",
	Summary: "True for events whose subject matches a regular expression (Kafka TopicNameMatches).",
	Spec:    regexSpec("subject"),
	New: func(c api.Config) (api.Predicate, error) {
		re, err := compileWhole(c.String("pattern"))
		if err != nil {
			return nil, err
		}
		return attrMatches{re: re, attr: func(e *api.Event) string { return e.Subject }}, nil
	},
}

// TypeMatches accepts events whose type matches a regex.
var TypeMatches = api.PredicatePlugin{
	Name:    "type-matches",
	Summary: "True for events whose type matches a regular expression.",
	Spec:    regexSpec("type"),
	New: func(c api.Config) (api.Predicate, error) {
		re, err := compileWhole(c.String("pattern"))
		if err != nil {
			return nil, err
		}
		return attrMatches{re: re, attr: func(e *api.Event) string { return e.Type }}, nil
	},
}

func regexSpec(attr string) api.Spec {
	return api.Spec{
		{Name: "pattern", Type: api.TypeString, Required: true, Check: checkRegex,
			Description: "Go regular expression (RE2) that must match the whole " + attr + ", as Java's Matcher.matches does in Kafka."},
	}
}

func checkRegex(v string) error {
	_, err := compileWhole(v)
	return err
}

// compileWhole compiles a regex that must match the whole input.
func compileWhole(v string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + v + `)$`)
}

type attrMatches struct {
	re   *regexp.Regexp
	attr func(*api.Event) string
}

func (a attrMatches) Test(r *api.Record) (bool, error) {
	return a.re.MatchString(a.attr(&r.Event)), nil
}

// IsTombstone accepts records without data or with JSON null data, the
// delete markers of compacted topics (Kafka's RecordIsTombstone).
var IsTombstone = api.PredicatePlugin{
	Name:    "is-tombstone",
	Summary: "True for records with no data or JSON null data (Kafka RecordIsTombstone).",
	New:     func(api.Config) (api.Predicate, error) { return isTombstone{}, nil },
}

type isTombstone struct{}

func (isTombstone) Test(r *api.Record) (bool, error) {
	d := bytes.TrimSpace(r.Event.Data)
	return len(d) == 0 || (string(d) == "null" && api.IsJSONContentType(r.Event.DataContentType)), nil
}

// Plugins returns every predicate plugin, for registration by cmd.
func Plugins() []api.PredicatePlugin {
	return []api.PredicatePlugin{Pattern, HasExtension, SubjectMatches, TypeMatches, IsTombstone}
}
