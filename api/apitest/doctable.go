package apitest

import (
	"os"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/ferryhq/ferry/api"
)

// SpecTable renders spec as the plain-text table a plugin's package
// documentation shows: one line per field with its type, default (or
// "required") and description, and one line per sink parameter (a field
// with its .form, .value and .template companions, type "parameter").
func SpecTable(spec api.Spec) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	_, _ = w.Write([]byte("field\ttype\tdefault\tdescription\n"))
	for i := 0; i < len(spec); i++ {
		f := spec[i]
		if isParam(spec[i:]) {
			// A sink parameter's four fields are one row: the constant
			// key's description says how the others take it from the event.
			def := "-"
			if strings.Contains(f.Description, " Required:") {
				def = "required"
			}
			_, _ = w.Write([]byte(f.Name + "[.form|.value|.template]\tparameter\t" + def + "\t" + f.Description + "\n"))
			i += 3
			continue
		}
		def := f.Default
		if f.Required {
			def = "required"
		}
		if def == "" {
			def = "-"
		}
		desc := f.Description
		if len(f.Enum) > 0 {
			desc += " One of: " + strings.Join(f.Enum, ", ") + "."
		}
		if f.Secret {
			desc += " Secret."
		}
		name := f.Name
		if f.Prefix {
			name += "<name>"
		}
		_, _ = w.Write([]byte(name + "\t" + string(f.Type) + "\t" + def + "\t" + desc + "\n"))
	}
	_ = w.Flush()
	return b.String()
}

// isParam reports whether spec starts with the four fields of a sink
// parameter as transform/template's ParamSpec declares them: name, then
// name.form, name.value and name.template.
func isParam(spec api.Spec) bool {
	if len(spec) < 4 || spec[0].Prefix {
		return false
	}
	n := spec[0].Name
	return spec[1].Name == n+".form" && spec[2].Name == n+".value" && spec[3].Name == n+".template"
}

// CheckSpecDoc fails t unless the Go file at path (usually "doc.go")
// holds SpecTable(spec) as an indented comment block, so the documented
// fields cannot drift from the declared ones. On failure it prints the
// block to paste.
func CheckSpecDoc(t testing.TB, path string, spec api.Spec) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var block strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(SpecTable(spec), "\n"), "\n") {
		block.WriteString("//\t" + strings.TrimRight(line, " ") + "\n")
	}
	if !strings.Contains(string(src), block.String()) {
		t.Errorf("%s does not document the spec's fields; it should contain:\n%s", path, block.String())
	}
}
