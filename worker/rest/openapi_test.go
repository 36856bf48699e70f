package rest

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ferryhq/ferry/worker"
)

// restOpenAPIDoc is the part of docs/openapi.yaml the tests check.
type restOpenAPIDoc struct {
	OpenAPI    string                                      `yaml:"openapi"`
	Paths      map[string]map[string]yaml.Node             `yaml:"paths"`
	Components struct{ Parameters map[string]restOAParam } `yaml:"components"`
}

type restOAParam struct {
	Ref  string `yaml:"$ref"`
	Name string `yaml:"name"`
	In   string `yaml:"in"`
}

type restOAOperation struct {
	OperationID string                    `yaml:"operationId"`
	Parameters  []restOAParam             `yaml:"parameters"`
	Responses   map[string]map[string]any `yaml:"responses"`
}

var restOAMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true}

func restLoadOpenAPI(t *testing.T) (restOpenAPIDoc, *yaml.Node) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc restOpenAPIDoc
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		t.Fatalf("docs/openapi.yaml: openapi %q, want 3.0.x", doc.OpenAPI)
	}
	return doc, &root
}

// restOperations returns "METHOD /path/{param}" → operation.
func restOperations(t *testing.T, doc restOpenAPIDoc) (map[string]restOAOperation, map[string][]restOAParam) {
	t.Helper()
	ops := map[string]restOAOperation{}
	pathParams := map[string][]restOAParam{}
	for path, item := range doc.Paths {
		for key, node := range item {
			if key == "parameters" {
				var ps []restOAParam
				if err := node.Decode(&ps); err != nil {
					t.Fatalf("%s parameters: %v", path, err)
				}
				pathParams[path] = ps
				continue
			}
			if !restOAMethods[key] {
				continue
			}
			var op restOAOperation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", key, path, err)
			}
			ops[strings.ToUpper(key)+" "+path] = op
		}
	}
	return ops, pathParams
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

func restServerRoutes(t *testing.T) []string {
	t.Helper()
	s, err := New(Config{Controller: restNopController{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range s.engine.Routes() {
		out = append(out, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIMatchesRoutes keeps docs/openapi.yaml and the gin routes in
// step: every route is documented with the same method and path, and the
// document lists no route the server lacks.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	doc, _ := restLoadOpenAPI(t)
	ops, _ := restOperations(t, doc)
	routes := restServerRoutes(t)
	served := map[string]bool{}
	for _, r := range routes {
		served[r] = true
		if _, ok := ops[r]; !ok {
			t.Errorf("route %s is not in docs/openapi.yaml", r)
		}
	}
	for op := range ops {
		if !served[op] {
			t.Errorf("docs/openapi.yaml documents %s, which the server does not route", op)
		}
	}
}

// TestOpenAPIWellFormed checks what a generator or linter would trip on:
// unique operation ids, responses on every operation, every path
// parameter declared, every $ref resolvable.
func TestOpenAPIWellFormed(t *testing.T) {
	t.Parallel()
	doc, root := restLoadOpenAPI(t)
	ops, pathParams := restOperations(t, doc)
	resolve := func(p restOAParam) restOAParam {
		if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
			return doc.Components.Parameters[name]
		}
		return p
	}
	ids := map[string]string{}
	for key, op := range ops {
		if op.OperationID == "" {
			t.Errorf("%s: no operationId", key)
		} else if other, dup := ids[op.OperationID]; dup {
			t.Errorf("%s and %s share operationId %s", key, other, op.OperationID)
		}
		ids[op.OperationID] = key
		if len(op.Responses) == 0 {
			t.Errorf("%s: no responses", key)
		}
		path := strings.SplitN(key, " ", 2)[1]
		declared := map[string]bool{}
		for _, p := range append(append([]restOAParam(nil), pathParams[path]...), op.Parameters...) {
			if p = resolve(p); p.In == "path" {
				declared[p.Name] = true
			}
		}
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter %q not declared", key, m[1])
			}
		}
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for i := 0; i+1 < len(n.Content); i++ {
			if n.Kind == yaml.MappingNode && i%2 == 0 && n.Content[i].Value == "$ref" {
				if !restResolves(root, n.Content[i+1].Value) {
					t.Errorf("line %d: $ref %q does not resolve", n.Content[i+1].Line, n.Content[i+1].Value)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
}

func restResolves(root *yaml.Node, ref string) bool {
	ptr, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	n := root
	if n.Kind == yaml.DocumentNode {
		n = n.Content[0]
	}
	for _, part := range strings.Split(ptr, "/") {
		if n.Kind != yaml.MappingNode {
			return false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return false
		}
		n = next
	}
	return true
}

// TestOpenAPIDeclaresGoldenStatuses checks that every status a golden
// response shows is among the responses docs/openapi.yaml declares for
// that operation, so the document tells clients every code they will see.
func TestOpenAPIDeclaresGoldenStatuses(t *testing.T) {
	t.Parallel()
	doc, _ := restLoadOpenAPI(t)
	ops, _ := restOperations(t, doc)
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files (%v)", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var g struct {
			Request string `json:"request"`
			Status  int    `json:"status"`
		}
		if err := json.Unmarshal(data, &g); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		method, rawPath, _ := strings.Cut(g.Request, " ")
		u, err := url.Parse(rawPath)
		if err != nil {
			t.Fatal(err)
		}
		key, ok := restMatchOperation(ops, method, u.EscapedPath())
		if !ok {
			// Unknown routes and wrong methods are answered by the router.
			if g.Status != 404 && g.Status != 405 {
				t.Errorf("%s: %s matches no documented operation but answered %d", f, g.Request, g.Status)
			}
			continue
		}
		if _, ok := ops[key].Responses[strconv.Itoa(g.Status)]; !ok {
			t.Errorf("%s: %s answered %d, which docs/openapi.yaml does not declare for %s", f, g.Request, g.Status, key)
		}
	}
}

func restMatchOperation(ops map[string]restOAOperation, method, path string) (string, bool) {
	path = strings.TrimRight(path, "/")
	if path == "" {
		path = "/"
	}
	segs := strings.Split(path, "/")
	for key := range ops {
		m, tmpl, _ := strings.Cut(key, " ")
		if m != method {
			continue
		}
		tsegs := strings.Split(tmpl, "/")
		if len(tsegs) != len(segs) {
			continue
		}
		match := true
		for i := range tsegs {
			if !strings.HasPrefix(tsegs[i], "{") && tsegs[i] != segs[i] {
				match = false
				break
			}
		}
		if match {
			return key, true
		}
	}
	return "", false
}

// restNopController satisfies Controller for route listing; it is never
// called.
type restNopController struct{ worker.Controller }
