package smt_test

import (
	"os"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/predicate"
	"github.com/ferryhq/ferry/transform/smt"
)

// markdownTable renders a plugin's spec as the field table of the user
// guide.
func markdownTable(spec api.Spec) string {
	var b strings.Builder
	b.WriteString("| field | type | default | description |\n|---|---|---|---|\n")
	for _, f := range spec {
		def := "`" + f.Default + "`"
		switch {
		case f.Required:
			def = "required"
		case f.Default == "":
			def = "—"
		}
		desc := f.Description
		if len(f.Enum) > 0 {
			desc += " One of: `" + strings.Join(f.Enum, "`, `") + "`."
		}
		desc = strings.NewReplacer("|", `\|`, "<", `\<`, ">", `\>`).Replace(desc)
		b.WriteString("| `" + f.Name + "` | " + string(f.Type) + " | " + def + " | " + desc + " |\n")
	}
	return b.String()
}

// TestUserGuide keeps docs/transforms.md in step with the specs: every
// SMT and predicate has a section holding its generated field table.
func TestUserGuide(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../../docs/transforms.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src)
	type plugin struct {
		name string
		spec api.Spec
	}
	var all []plugin
	for _, p := range smt.Plugins() {
		all = append(all, plugin{p.Name, p.Spec})
	}
	for _, p := range predicate.Plugins() {
		all = append(all, plugin{p.Name, p.Spec})
	}
	for _, p := range all {
		i := strings.Index(doc, "\n### "+p.name+"\n")
		if i < 0 {
			i = strings.Index(doc, "\n#### "+p.name+"\n")
		}
		if i < 0 {
			t.Errorf("docs/transforms.md has no section for %s", p.name)
			continue
		}
		if len(p.spec) == 0 {
			continue
		}
		if want := markdownTable(p.spec); !strings.Contains(doc[i:], want) {
			t.Errorf("the %s section of docs/transforms.md should hold its field table:\n%s", p.name, want)
		}
	}
}
