package deploytest

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// image is what the tests of the other files need to know of the image.
type image struct {
	user    string // the final stage's USER
	volumes []string
}

// parseDockerfile parses a Dockerfile with BuildKit's own parser and
// instruction parser (what `docker build` runs first), with its linter's
// parse-time rules (casing, stage names, …) as problems.
func parseDockerfile(src []byte) (stages []instructions.Stage, args []instructions.ArgCommand, problems []string) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, nil, []string{err.Error()}
	}
	for _, w := range res.Warnings {
		problems = append(problems, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		problems = append(problems, fmt.Sprintf("lint %s: %s (%v)", rule, msg, loc))
	}})
	stages, args, err = instructions.Parse(res.AST, lint)
	if err != nil {
		problems = append(problems, err.Error())
	}
	return stages, args, problems
}

func mustParseDockerfile(t *testing.T) ([]instructions.Stage, []instructions.ArgCommand) {
	t.Helper()
	stages, args, problems := parseDockerfile(readRepo(t, "deploy", "Dockerfile"))
	for _, p := range problems {
		t.Errorf("deploy/Dockerfile: %s", p)
	}
	if len(stages) == 0 {
		t.FailNow()
	}
	return stages, args
}

func dockerImage(t *testing.T) image {
	t.Helper()
	stages, _ := mustParseDockerfile(t)
	var img image
	for _, c := range stages[len(stages)-1].Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			img.user = c.User
		case *instructions.VolumeCommand:
			img.volumes = append(img.volumes, c.Volumes...)
		}
	}
	return img
}

// TestDockerfile: deploy/Dockerfile parses; it builds in a Go stage no
// older than go.mod asks, through the Makefile's target (so the binary
// carries the Makefile's version stamping) with cgo off (static), and
// its final stage runs that binary as a numeric non-root user with the
// data dir as a volume.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	stages, metaArgs := mustParseDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("%d stages: want a build stage and a runtime stage", len(stages))
	}
	goVersion := ""
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Key == "GO_VERSION" && kv.Value != nil {
				goVersion = *kv.Value
			}
		}
	}
	mod, err := modfile.Parse("go.mod", readRepo(t, "go.mod"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if semver.Compare("v"+goVersion, "v"+mod.Go.Version) < 0 {
		t.Errorf("ARG GO_VERSION=%s is older than go.mod's go %s", goVersion, mod.Go.Version)
	}
	build, final := stages[0], stages[len(stages)-1]
	if !strings.HasPrefix(build.BaseName, "golang:${GO_VERSION}") {
		t.Errorf("build stage FROM %s, want golang:${GO_VERSION}…", build.BaseName)
	}
	var runs, env []string
	for _, c := range build.Commands {
		switch c := c.(type) {
		case *instructions.RunCommand:
			runs = append(runs, strings.Join(c.CmdLine, " "))
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				env = append(env, kv.Key+"="+kv.Value)
			}
		}
	}
	makeRun := regexp.MustCompile(`\bmake (\w+) VERSION="\$\{VERSION\}" COMMIT="\$\{COMMIT\}" TAGS="\$\{TAGS\}"`)
	m := makeRun.FindStringSubmatch(strings.Join(runs, "\n"))
	if m == nil {
		t.Errorf("no RUN make <target> VERSION=… COMMIT=… TAGS=… in the build stage: %q", runs)
	} else if !regexp.MustCompile(`(?m)^` + m[1] + `:.*\n\t\$\(GO\) build -tags '\$\(TAGS\)' -ldflags '\$\(LDFLAGS\)' -o \$\(BIN\)/ferry \./cmd/ferry$`).Match(readRepo(t, "Makefile")) {
		t.Errorf("the Makefile has no target %s building bin/ferry with $(TAGS) and $(LDFLAGS)", m[1])
	}
	if !strings.Contains(strings.Join(env, " "), "CGO_ENABLED=0") {
		t.Errorf("build stage ENV %v: want CGO_ENABLED=0 (a static binary)", env)
	}

	var user, entry string
	var volumes []string
	copied := false
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.VolumeCommand:
			volumes = append(volumes, c.Volumes...)
		case *instructions.EntrypointCommand:
			entry = strings.Join(c.CmdLine, " ")
		case *instructions.CopyCommand:
			if c.From == build.Name && len(c.SourcePaths) == 1 && c.SourcePaths[0] == "/src/bin/ferry" && c.DestPath == unitBinary {
				copied = true
			}
		}
	}
	if !copied {
		t.Errorf("the final stage does not COPY --from=%s /src/bin/ferry %s", build.Name, unitBinary)
	}
	if entry != unitBinary {
		t.Errorf("ENTRYPOINT %q, want %s", entry, unitBinary)
	}
	if uid, _, _ := strings.Cut(user, ":"); !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(uid) {
		t.Errorf("USER %q: want a numeric non-root uid (Kubernetes' runAsNonRoot checks numbers)", user)
	}
	if fmt.Sprint(volumes) != "[/var/lib/ferry]" {
		t.Errorf("VOLUME %v, want [/var/lib/ferry]", volumes)
	}
}

// TestDockerfileParserCatches: the parse above fails on a broken file.
func TestDockerfileParserCatches(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		"FROM golang AS build\nCOPY --frum=build a b\n",
		"FROM golang\nHEALTHCHECK --interval=nope CMD true\n",
		"from golang AS build\nFROM scratch as final\n",
	} {
		if _, _, problems := parseDockerfile([]byte(src)); len(problems) == 0 {
			t.Errorf("no complaint about\n%s", src)
		}
	}
}

// TestDockerignore: the build context keeps what `make ferry` needs and
// leaves out the repository's history, builds and test data.
func TestDockerignore(t *testing.T) {
	t.Parallel()
	patterns, err := ignorefile.ReadAll(bytes.NewReader(readRepo(t, ".dockerignore")))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	for path, ignored := range map[string]bool{
		"go.mod": false, "go.sum": false, "Makefile": false, "cmd/ferry/main.go": false,
		"worker/rest.go": false, "internal/emulator/dts/record.avsc": false,
		".git/HEAD": true, "bin/ferry": true, ".testbed/env": true, "worker/rest/server_test.go": true,
		"worker/rest/testdata/x.json": true, "deploy/deploytest/go.mod": true,
	} {
		got, err := pm.MatchesOrParentMatches(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != ignored {
			t.Errorf("%s: ignored=%v, want %v", path, got, ignored)
		}
	}
}
