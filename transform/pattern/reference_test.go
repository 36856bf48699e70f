package pattern_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/pattern"
)

// refCase is one case ported, as data, from a reference engine's tests or
// documentation: a pattern and an event with the reference's answer, or a
// pattern the reference rejects (Error is the JSON path Ferry names).
// Differs, when set, is why Ferry deliberately answers otherwise; the case
// then asserts Ferry's answer and docs/transforms.md lists it.
type refCase struct {
	Source  string          `json:"source"`
	Dialect string          `json:"dialect"`
	Pattern json.RawMessage `json:"pattern"`
	Event   json.RawMessage `json:"event"`
	Match   *bool           `json:"match"`
	Error   string          `json:"error"`
	Differs string          `json:"differs"`
}

// TestReferenceCases runs every case in testdata/*-cases.json.
func TestReferenceCases(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*-cases.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no case files: %v", err)
	}
	counts := map[string]int{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var cases []refCase
		if err := json.Unmarshal(b, &cases); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for i, c := range cases {
			counts[filepath.Base(file)]++
			name := filepath.Base(file) + "/" + c.Source
			t.Run(name, func(t *testing.T) {
				checkRefCase(t, i, c)
			})
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%s: %d cases", k, counts[k])
	}
}

func checkRefCase(t *testing.T, i int, c refCase) {
	t.Helper()
	if c.Source == "" {
		t.Fatalf("case %d names no source", i)
	}
	d, err := pattern.ParseDialect(c.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pattern.CompileDialect(string(c.Pattern), d)
	if c.Error != "" {
		var se *pattern.SyntaxError
		switch {
		case c.Differs != "":
			if err != nil {
				t.Fatalf("case %d: listed as accepted by Ferry (%s) but: %v", i, c.Differs, err)
			}
		case !errors.As(err, &se):
			t.Fatalf("case %d: %s accepted, want rejection at %s", i, c.Pattern, c.Error)
		case se.Path != c.Error:
			t.Fatalf("case %d: rejected at %s (%s), want %s", i, se.Path, se.Msg, c.Error)
		}
		return
	}
	if err != nil {
		t.Fatalf("case %d: %s: %v", i, c.Pattern, err)
	}
	if c.Match == nil {
		t.Fatalf("case %d has neither match nor error", i)
	}
	var ev api.Event
	if err := json.Unmarshal(c.Event, &ev); err != nil {
		t.Fatalf("case %d: event: %v", i, err)
	}
	got, err := p.Match(&ev)
	if err != nil {
		t.Fatalf("case %d: Match: %v", i, err)
	}
	want := *c.Match
	if c.Differs != "" {
		want = !want
	}
	if got != want {
		t.Errorf("case %d: %s on %s = %v, want %v (reference: %v; differs: %q)", i, c.Pattern, c.Event, got, want, *c.Match, c.Differs)
	}
}
