package template_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/pattern"
	"github.com/ferryhq/ferry/transform/template"
)

// refCase is one transform case ported, as data, from a reference engine's
// tests: a transform and an event with the reference's output, or a
// transform it rejects (Error is the part Ferry names: form, value or
// template). Differs, when set, is why Ferry deliberately answers
// otherwise; docs/transforms.md lists it.
type refCase struct {
	Source   string          `json:"source"`
	Dialect  string          `json:"dialect"`
	Form     string          `json:"form"`
	Value    string          `json:"value"`
	Template string          `json:"template"`
	Event    json.RawMessage `json:"event"`
	Output   *string         `json:"output"`
	Error    string          `json:"error"`
	Differs  string          `json:"differs"`
}

func TestReferenceCases(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/alibaba-cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []refCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	t.Logf("alibaba-cases.json: %d cases", len(cases))
	for i, c := range cases {
		t.Run(c.Source, func(t *testing.T) {
			d, err := pattern.ParseDialect(c.Dialect)
			if err != nil {
				t.Fatal(err)
			}
			tm, err := template.CompileDialect(c.Form, c.Value, c.Template, d)
			if c.Error != "" {
				var te *template.Error
				if !errors.As(err, &te) || te.Field != c.Error {
					t.Fatalf("case %d: err = %v, want a rejection of %s", i, err, c.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			var ev api.Event
			if err := json.Unmarshal(c.Event, &ev); err != nil {
				t.Fatal(err)
			}
			out, err := tm.Render(&ev, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Output == nil {
				t.Fatalf("case %d has neither output nor error", i)
			}
			if (string(out) == *c.Output) == (c.Differs != "") {
				t.Errorf("case %d: got %q, reference %q (differs: %q)", i, out, *c.Output, c.Differs)
			}
		})
	}
}
