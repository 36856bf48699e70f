package deploytest

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"sigs.k8s.io/yaml"
)

func alertRules(t *testing.T) map[string]rulefmt.Rule {
	t.Helper()
	groups, errs := rulefmt.ParseFile(repoPath("deploy", "prometheus", "alerts.yml"), false,
		model.UTF8Validation, promQL, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	rules := map[string]rulefmt.Rule{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: recording rule %s: alerts.yml holds alerts only", g.Name, r.Record)
				continue
			}
			if _, dup := rules[r.Alert]; dup {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: needs a severity label and summary and description annotations", r.Alert)
			}
			rules[r.Alert] = r
		}
	}
	return rules
}

// TestAlertRules parses alerts.yml as Prometheus loads it (rulefmt, the
// parser of `promtool check rules`: YAML fields, PromQL, label and
// annotation templates) and checks that every series a rule selects is one
// a Ferry worker exports, with labels it carries.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	exported := exportedSeries(t)
	for name, r := range alertRules(t) {
		for _, p := range checkQuery(r.Expr, exported) {
			t.Errorf("alert %s: %s", name, p)
		}
	}
}

// TestCheckQueryCatches: the check above finds each kind of mistake.
func TestCheckQueryCatches(t *testing.T) {
	t.Parallel()
	exported := exportedSeries(t)
	for _, tc := range []struct{ expr, want string }{
		{`ferry_task_states{state="FAILED"} == 1`, "not a series Ferry exports"},
		{`ferry_task_state{status="FAILED"} == 1`, `has no label "status"`},
		{`ferry_task_state{state="FAIL"} == 1`, `no state "FAIL"`},
		{`sum by (conector) (ferry_source_lag_records)`, `"conector" is on no exported series`},
		{`ferry_task_retrying and on (tsk) ferry_task_state`, `"tsk" is on no exported series`},
		{`rate(ferry_task_offset_commit_failure_total[5m]`, "unclosed"},
		{`go_gc_duration_seconds_bucket`, "not a series"},
	} {
		problems := strings.Join(checkQuery(tc.expr, exported), "\n")
		if !strings.Contains(problems, tc.want) {
			t.Errorf("%s: want a problem containing %q, got %q", tc.expr, tc.want, problems)
		}
	}
	if p := checkQuery(`sum by (connector, job) (rate(ferry_source_task_source_record_poll_total{connector=~".*"}[5m]))`, exported); len(p) > 0 {
		t.Errorf("a good query has problems: %v", p)
	}
}

// TestScrapeConfig: the scrape job is the one the rules and the
// dashboard select, and it loads the rules.
func TestScrapeConfig(t *testing.T) {
	t.Parallel()
	var cfg struct {
		RuleFiles     []string `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName string `json:"job_name"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(readRepo(t, "deploy", "prometheus", "prometheus.yml"), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.ScrapeConfigs) != 1 || cfg.ScrapeConfigs[0].JobName != "ferry" {
		t.Errorf("scrape_configs: want one job named ferry, got %+v", cfg.ScrapeConfigs)
	}
	if len(cfg.RuleFiles) != 1 || cfg.RuleFiles[0] != "alerts.yml" {
		t.Errorf("rule_files = %v, want [alerts.yml]", cfg.RuleFiles)
	}
	for name, r := range alertRules(t) {
		if !strings.Contains(r.Expr, `job="ferry"`) {
			t.Errorf("alert %s does not select job=\"ferry\"", name)
		}
	}
}
