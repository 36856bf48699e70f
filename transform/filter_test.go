package transform_test

import (
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

func TestFilterSpecRejectsBadPatterns(t *testing.T) {
	t.Parallel()
	_, err := transform.Filter.Spec.Parse(map[string]string{"pattern": `{"data": {"n": [{"numeric": [">", "x"]}]}}`})
	if err == nil || !strings.Contains(err.Error(), "$.data.n[0].numeric[1]") {
		t.Fatalf("err = %v, want the JSON path of the bad element", err)
	}
}
