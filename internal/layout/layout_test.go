package layout

import (
	"bufio"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ferryhq/ferry"

// rule is one row of the table in docs/layout.md.
type rule struct {
	pattern string   // "api", "connectors/..."
	allowed []string // patterns of Ferry packages it may import
}

func matches(pattern, pkg string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// specificity orders patterns: an exact name beats a wildcard, a longer
// prefix beats a shorter one.
func specificity(pattern string) int {
	n := len(strings.TrimSuffix(pattern, "/..."))*2 + 1
	if strings.HasSuffix(pattern, "/...") {
		n--
	}
	return n
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func readRules(t *testing.T, path string) []rule {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	code := regexp.MustCompile("`([^`]+)`")
	var rules []rule
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) != 5 || !strings.Contains(cells[1], "`") {
			continue
		}
		r := rule{pattern: code.FindStringSubmatch(cells[1])[1]}
		for _, m := range code.FindAllStringSubmatch(cells[3], -1) {
			r.allowed = append(r.allowed, m[1])
		}
		rules = append(rules, r)
	}
	if len(rules) < 5 {
		t.Fatalf("found only %d rules in %s; table format changed?", len(rules), path)
	}
	return rules
}

func ruleFor(rules []rule, pkg string) (rule, bool) {
	best, found := rule{}, false
	for _, r := range rules {
		if matches(r.pattern, pkg) && (!found || specificity(r.pattern) > specificity(best.pattern)) {
			best, found = r, true
		}
	}
	return best, found
}

func TestImportsFollowDocsLayout(t *testing.T) {
	dir := root(t)
	rules := readRules(t, filepath.Join(dir, "docs", "layout.md"))
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != dir && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		r, ok := ruleFor(rules, pkg)
		if !ok {
			t.Errorf("%s: package %q has no row in docs/layout.md", path, pkg)
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if pkg == "api" && strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
				t.Errorf("%s imports %s: api may import the standard library only", path, p)
				continue
			}
			if p != module && !strings.HasPrefix(p, module+"/") {
				continue
			}
			target := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
			allowed := target == pkg
			for _, a := range r.allowed {
				if matches(a, target) {
					allowed = true
				}
			}
			if !allowed {
				t.Errorf("%s imports %s: docs/layout.md allows %q to import only %v", path, p, r.pattern, r.allowed)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRuleMatching(t *testing.T) {
	t.Parallel()
	rules := []rule{{pattern: "connectors/..."}, {pattern: "state/..."}, {pattern: "state"}}
	cases := map[string]string{"connectors/file": "connectors/...", "state": "state", "state/storetest": "state/..."}
	for pkg, want := range cases {
		if r, ok := ruleFor(rules, pkg); !ok || r.pattern != want {
			t.Errorf("ruleFor(%q) = %q, want %q", pkg, r.pattern, want)
		}
	}
	if _, ok := ruleFor(rules, "worker"); ok {
		t.Error("worker matched a rule it should not")
	}
}
