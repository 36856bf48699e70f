package deploytest

import (
	"fmt"
	"slices"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// promQL is the parser Prometheus uses by default.
var promQL = parser.NewParser(parser.Options{})

// checkQuery parses expr and returns what is wrong with the series it
// selects: names Ferry does not export, labels those series do not carry,
// and states that do not exist; and grouping or matching labels no Ferry
// series carries.
func checkQuery(expr string, exported map[string]*series) []string {
	e, err := promQL.ParseExpr(expr)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	anyLabel := func(l string) bool {
		if targetLabels[l] {
			return true
		}
		for _, s := range exported {
			if s.labels[l] {
				return true
			}
		}
		return false
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			problems = append(problems, checkSelector(n, exported)...)
		case *parser.AggregateExpr:
			for _, l := range n.Grouping {
				if !anyLabel(l) {
					problems = append(problems, fmt.Sprintf("by/without label %q is on no exported series", l))
				}
			}
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				for _, l := range append(slices.Clone(n.VectorMatching.MatchingLabels), n.VectorMatching.Include...) {
					if !anyLabel(l) {
						problems = append(problems, fmt.Sprintf("on/ignoring label %q is on no exported series", l))
					}
				}
			}
		}
		return nil
	})
	return problems
}

func checkSelector(vs *parser.VectorSelector, exported map[string]*series) []string {
	name := vs.Name
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			name = m.Value
		}
	}
	s := exported[name]
	if s == nil {
		return []string{fmt.Sprintf("%s: not a series Ferry exports", vs)}
	}
	var problems []string
	for _, m := range vs.LabelMatchers {
		switch {
		case m.Name == labels.MetricName || targetLabels[m.Name]:
		case !s.labels[m.Name]:
			problems = append(problems, fmt.Sprintf("%s: %s has no label %q", vs, name, m.Name))
		case m.Name == "state" && m.Type == labels.MatchEqual && !s.states[m.Value]:
			problems = append(problems, fmt.Sprintf("%s: no state %q (states: %v)", vs, m.Value, keys(s.states)))
		}
	}
	return problems
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
