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
// "required") and description.
func SpecTable(spec api.Spec) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	_, _ = w.Write([]byte("field\ttype\tdefault\tdescription\n"))
	for _, f := range spec {
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
