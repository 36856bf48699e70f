package transform_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform"
)

func TestFilter(t *testing.T) {
	t.Parallel()
	cfg, err := transform.Filter.Spec.Parse(map[string]string{"pattern": `{"data": {"status": ["PAID"]}}`})
	if err != nil {
		t.Fatal(err)
	}
	f, err := transform.Filter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for data, want := range map[string]bool{`{"status": "PAID"}`: true, `{"status": "NEW"}`: false} {
		r := api.Record{Event: api.Event{ID: "1", Source: "s", Type: "t", Data: []byte(data)}}
		keep, err := f.Apply(&r)
		if err != nil || keep != want {
			t.Errorf("Apply(%s) = %v, %v; want %v", data, keep, err, want)
		}
	}
	r := api.Record{Event: api.Event{Data: []byte(`{"status": `)}}
	if _, err := f.Apply(&r); err == nil || !api.IsFatal(err) {
		t.Errorf("bad data: err = %v, want a fatal record error", err)
	}
}

func TestFilterValidateRejectsBadPatterns(t *testing.T) {
	t.Parallel()
	cases := []struct{ pattern, dialect, want string }{
		{`{"data": {"n": [{"numeric": [">", "x"]}]}}`, "", "$.data.n[0].numeric[1]"},
		{`{"data": {"n": [{"numeric": [">", 5e9]}]}}`, "alibaba", "$.data.n[0].numeric[1]"},
		{`{"data": {"ip": [{"cidr": "10.0.0.1"}]}}`, "aws", "$.data.ip[0].cidr"},
		{`{"data": {}}`, "aws", "$.data"},
	}
	for _, c := range cases {
		raw := map[string]string{"pattern": c.pattern}
		if c.dialect != "" {
			raw["dialect"] = c.dialect
		}
		cfg, err := transform.Filter.Spec.Parse(raw)
		if err == nil {
			err = transform.Filter.Validate(cfg)
		}
		var fe api.FieldError
		if !errors.As(err, &fe) || fe.Field != "pattern" || !strings.Contains(fe.Message, c.want) {
			t.Errorf("%s (%s): err = %v, want a FieldError on pattern naming %s", c.pattern, c.dialect, err, c.want)
		}
	}
	// What one dialect rejects the other may take.
	for _, c := range []struct{ pattern, dialect string }{
		{`{"data": {"n": [{"numeric": [">", 5e9]}]}}`, "aws"},
		{`{"data": {"ip": [{"cidr": "10.0.0.1"}]}}`, "alibaba"},
	} {
		cfg, err := transform.Filter.Spec.Parse(map[string]string{"pattern": c.pattern, "dialect": c.dialect})
		if err == nil {
			err = transform.Filter.Validate(cfg)
		}
		if err != nil {
			t.Errorf("%s (%s): %v", c.pattern, c.dialect, err)
		}
	}
	if _, err := transform.Filter.Spec.Parse(map[string]string{"pattern": `{}`, "dialect": "azure"}); err == nil {
		t.Error("an unknown dialect was accepted")
	}
}
