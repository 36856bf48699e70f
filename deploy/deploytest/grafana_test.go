package deploytest

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

var (
	grafanaVar  = regexp.MustCompile(`\$\{?(\w+)\}?`)
	labelValues = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
)

// expand replaces Grafana's variables the way a query sent to Prometheus
// has them replaced: intervals by a duration, the dashboard's variables
// by "all".
func expand(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		name := grafanaVar.FindStringSubmatch(v)[1]
		if strings.HasPrefix(name, "__") {
			return "5m"
		}
		return ".*"
	})
}

// TestGrafanaDashboard: ferry.json is a dashboard Grafana can import
// (unique panel ids, panels on the 24-column grid, every panel on the
// dashboard's data source variable), every query parses as PromQL once
// Grafana's variables are replaced and selects only series Ferry exports,
// every variable a query uses is defined, and the variables' own queries
// select exported labels.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	exported := exportedSeries(t)
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(readRepo(t, "deploy", "grafana", "ferry.json"))))
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, v.Definition)
			continue
		}
		for _, p := range checkQuery(expand(m[1]), exported) {
			t.Errorf("variable %s: %s", v.Name, p)
		}
		if label, s := m[2], exported[metricOf(t, expand(m[1]))]; !targetLabels[label] && (s == nil || !s.labels[label]) {
			t.Errorf("variable %s: %s has no label %s", v.Name, m[1], label)
		}
	}
	if !vars["datasource"] {
		t.Error("no datasource variable")
	}
	ids := map[int]string{}
	queries := 0
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if other, dup := ids[p.ID]; dup || p.ID == 0 {
				t.Errorf("panel %q: id %d (also %q)", p.Title, p.ID, other)
			}
			ids[p.ID] = p.Title
			if g := p.GridPos; g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
				t.Errorf("panel %q: gridPos %+v off the 24-column grid", p.Title, g)
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: datasource is not ${datasource}", p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				queries++
				for _, m := range grafanaVar.FindAllStringSubmatch(tg.Expr, -1) {
					if !vars[m[1]] && !strings.HasPrefix(m[1], "__") {
						t.Errorf("panel %q: query uses undefined variable $%s", p.Title, m[1])
					}
				}
				for _, prob := range checkQuery(expand(tg.Expr), exported) {
					t.Errorf("panel %q %s: %s", p.Title, tg.RefID, prob)
				}
			}
		}
	}
	walk(d.Panels)
	if queries < 20 {
		t.Errorf("only %d queries found: dashboard format changed?", queries)
	}
}

func metricOf(t *testing.T, selector string) string {
	t.Helper()
	e, err := promQL.ParseExpr(selector)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitN(e.String(), "{", 2)[0]
}
